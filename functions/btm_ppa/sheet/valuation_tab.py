"""The Valuation tab: every simulated method side by side against `optimal` (value over
no battery, wear, cycles, capture rate), and row 61's one-line summary of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from btm_ppa.core.dispatch import OptimalResult
from btm_ppa.core.dispatch.daily import ScheduleValue
from btm_ppa.core.results import ResultTable, pennies
from btm_ppa.core.vocab import Method
from btm_ppa.core.wear import DEFAULT_WEAR_GBP_PER_MWH
from btm_ppa.sheet.inputs import RefreshInputs
from btm_ppa.sheet.workbook import CellValue, TableWrite
from sheets_layout import BessLayout

if TYPE_CHECKING:  # simulate imports this module
    from btm_ppa.simulate import RealisticForecast

#: The daily arm's name in the Valuation tab and row 61.
DAILY_PF = "daily perfect foresight"


def capture_note(worth: Mapping[str, ScheduleValue], wear_gbp_per_mwh: float) -> str:
    """"share of optimal's value over no battery (£...): daily perfect foresight 99.9%, ..."."""
    base = worth[Method.OPTIMAL.value].net_value_gbp
    if base <= 0:
        return "capture rates not defined (optimal's value over no battery is not positive)"
    parts = [f"{name} {worth[name].net_value_gbp / base:.1%}"
             for name in (DAILY_PF, Method.REALISTIC.value, Method.GREEDY.value) if name in worth]
    net = " net of wear" if wear_gbp_per_mwh else ""
    return f"share of optimal's value over no battery (£{base:,.2f}{net}): " + ", ".join(parts)


def wear_note(layout: BessLayout, wear_gbp_per_mwh: float) -> str:
    """Row 61's word on the wear cost."""
    cell = layout.input("wear_gbp_per_mwh").cell
    if not wear_gbp_per_mwh:
        return f"battery wear not priced ({cell} blank)"
    return (f"battery wear £{wear_gbp_per_mwh:,.2f}/MWh discharged ({cell}) in the objective "
            "of optimal and the daily plans")


def valuation_table(layout: BessLayout, inputs: RefreshInputs,
                    results: Mapping[str, ResultTable], worth: Mapping[str, ScheduleValue],
                    forecast: RealisticForecast | None, best: OptimalResult | None,
                    budget_s: float) -> TableWrite:
    """optimal, the daily arm, realistic and greedy (those computed, keyed by name in
    ``worth``) side by side, B22's marked; then what the figures mean. ``results``: each
    method's rows 50-60."""
    spec = layout.valuation
    method, forecast_name = inputs.method, inputs.price_forecast.value
    wear_gbp_per_mwh = inputs.wear_gbp_per_mwh or 0.0
    profit_gbp = {name: float(r.total.profit_gbp) for name, r in results.items()}
    top = worth.get(Method.OPTIMAL.value)
    names = {Method.OPTIMAL.value: "optimal (perfect foresight, the window at once)",
             DAILY_PF: f"{DAILY_PF} (a plan a day, true prices)",
             Method.REALISTIC.value: f"realistic ({forecast_name} forecast)",
             Method.GREEDY.value: "greedy (the battery-first rule)"}

    def share(value: float, base: float | None) -> float | None:
        return value / base if base is not None and base > 0 else None

    table: list[list[CellValue]] = [list(spec["headers"])]
    for name, v in worth.items():
        table.append([
            names[name] + (" <- B22" if name == method.value else ""),
            float(pennies(profit_gbp[name])), float(pennies(v.value_gbp)),
            float(pennies(v.wear_cost_gbp)), float(pennies(v.net_value_gbp)),
            v.equivalent_full_cycles, v.cycles_per_year,
            share(v.value_gbp, top.value_gbp if top else None),
            share(v.net_value_gbp, top.net_value_gbp if top else None)])
    wear_cell = layout.input("wear_gbp_per_mwh").cell
    notes = [
        "Value over no battery: profit less the site's profit with the same demand and no "
        "battery, at outturn prices; capture rate: a method's value / optimal's (gross, and "
        "net of wear).",
        (f"Wear: £{wear_gbp_per_mwh:,.2f} per MWh discharged ({wear_cell}), in the objective "
         "of optimal and of the daily plans." if wear_gbp_per_mwh else
         f"Wear not priced ({wear_cell} blank). `btm-ppa wear` derives a cost per MWh "
         f"discharged; its default is £{DEFAULT_WEAR_GBP_PER_MWH:,.2f}/MWh."),
        "Equivalent full cycles: MWh discharged / capacity; a year: x 365.25 / days.",
        f"{DAILY_PF}: realistic's decision structure (day D planned over D and D+1, D "
        "committed) on the true prices; optimal - it is the cost of deciding a day at a "
        "time, it - realistic the cost of the forecast's errors.",
        forecast.note if forecast is not None else "realistic not computed (see row 61)",
    ]
    if best is None:
        notes.append(f"optimal not found within the {budget_s:g} s budget: no capture rates")
    elif not best.proven:
        notes.append(f"optimal within £{best.gap_gbp:,.2f} of the bound")
    table.append([])
    table += [[note] for note in notes]
    formats = {i: f for i, f in enumerate(spec["formats"]) if f != "@"}
    return TableWrite(rows=table, number_formats=formats)
