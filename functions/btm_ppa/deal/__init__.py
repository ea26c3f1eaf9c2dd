"""The deal use case: from the BESS tab's site and battery, the Deal tab's terms and the
price years held, to every scenario's cash flows under the Deal tab's method
(``realistic`` by default), the ceiling (``optimal``, perfect foresight) beside it, and
the sizing grid (a process pool over the cores).

A scenario is one full calendar price year held (``prices.price_years``: 2017-2024 on the
shipped data); partial years, and years that cannot be valued, are named in the notes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from btm_ppa.core import deal as core
from btm_ppa.core.deal import DealResult, DealTerms, Degradation, EndOfLife, Indexation, Indexed
from btm_ppa.deal.sizing import (  # noqa: F401 (re-exported)
    SizingPending,
    SizingResult,
    SizingSuperseded,
    Sweep,
    SweepJob,
    deal_digest,
    grid_axis,
    sizing,
    value_size,
)
from btm_ppa.deal.valuing import (  # noqa: F401 (re-exported)
    CEILING_METHOD,
    METHODS,
    figures_at,
    schedule_of,
    valuation_points,
    year_points,
)
from btm_ppa.errors import InputError, PriceDataError
from btm_ppa.prices import warehouse as wh
from btm_ppa.prices.price_years import (  # noqa: F401 (re-exported)
    ChargesFrom,
    PriceYears,
    Scenarios,
    ScenarioYear,
    held_years,
    scenario_years,
)
from btm_ppa.sheet.deal_inputs import DealSheetInputs
from btm_ppa.sheet.inputs import RefreshInputs
from btm_ppa.sheet.workbook import CellValue
from sheets_layout import BessLayout, DealLayout

log = logging.getLogger(__name__)


def _indexed(values: DealSheetInputs, kind_key: str, escalator_key: str) -> Indexed:
    return Indexed(Indexation(values.text(kind_key)), values.number(escalator_key) / 100.0)


def deal_terms(inputs: RefreshInputs, values: DealSheetInputs) -> DealTerms:
    b = inputs.battery
    assert b.export_power_kw and b.duration_h
    return DealTerms(
        term_years=int(values.number("term_years")), first_year=int(values.number("first_year")),
        power_kw=b.export_power_kw, energy_kwh=b.export_power_kw * b.duration_h,
        capex_gbp_per_kw=values.number("capex_gbp_per_kw"),
        capex_gbp_per_kwh=values.number("capex_gbp_per_kwh"),
        ppa_gbp_per_mwh=inputs.ppa_price_gbp_per_mwh,
        vlp_gbp_per_mwh=b.vlp_payment_gbp_per_mwh,
        opex_gbp_per_kw_year=values.number("opex_gbp_per_kw_year"),
        opex_pct_capex_per_year=values.number("opex_pct_capex_per_year"),
        insurance_gbp_per_year=values.number("insurance_gbp_per_year"),
        business_rates_gbp_per_year=values.number("business_rates_gbp_per_year"),
        wear_gbp_per_mwh=values.number("wear_gbp_per_mwh"),
        discount_rate_frac=values.number("discount_rate_pct") / 100.0,
        hurdle_irr_frac=values.number("hurdle_irr_pct") / 100.0,
        site_discount_rate_frac=values.number("site_discount_rate_pct") / 100.0,
        cpi_frac_per_year=values.number("cpi_pct") / 100.0,
        ppa_indexation=_indexed(values, "ppa_indexation", "ppa_escalator_pct"),
        vlp_indexation=_indexed(values, "vlp_indexation", "vlp_escalator_pct"),
        counterfactual_gbp_per_mwh=values.optional("counterfactual_gbp_per_mwh"),
        supplier_margin_gbp_per_mwh=values.number("supplier_margin_gbp_per_mwh"),
        counterfactual_indexation=_indexed(values, "counterfactual_indexation",
                                           "counterfactual_escalator_pct"),
        degradation=Degradation(
            calendar_fade_frac_per_year=values.number("calendar_fade_pct_per_year") / 100.0,
            cycle_fade_frac_per_efc=values.number("cycle_fade_pct_per_efc") / 100.0,
            table=values.fade_table,
            end_of_life_frac=values.number("end_of_life_pct") / 100.0,
            action=EndOfLife(values.text("end_of_life_action")),
            replacement_gbp_per_kwh=values.number("replacement_gbp_per_kwh")))


@dataclass(frozen=True)
class DealOutcome:
    method: str
    result: DealResult
    ceiling: DealResult | None  # optimal beside a non-optimal method
    sizing: SizingResult | None
    notes: tuple[str, ...]
    seconds: float
    valued: tuple[str, ...] = ()  # price years valued
    left_out: tuple[tuple[int, str], ...] = ()  # full price years held but not valued, why
    partial: tuple[str, ...] = ()  # partial price years held, left out


def left_out_text(left_out: Sequence[tuple[int, str]]) -> str:
    """"2017-2022: <reason>; 2023: <reason>" (consecutive years with the same reason
    together, the year itself taken out of the reason)."""
    groups: list[tuple[list[int], str]] = []
    for year, why in left_out:
        reason = why.replace(str(year), "<year>")
        if groups and groups[-1][1] == reason and groups[-1][0][-1] == year - 1:
            groups[-1][0].append(year)
        else:
            groups.append(([year], reason))
    parts = []
    for years, reason in groups:
        span = str(years[0]) if len(years) == 1 else f"{years[0]}-{years[-1]}"
        parts.append(f"{span}: {reason.replace('<year>', span if len(years) == 1 else 'each year')}")
    return "; ".join(parts)


def deal_scenarios(bess: BessLayout, inputs: RefreshInputs, values: DealSheetInputs,
                   warehouse: wh.PriceWarehouse,
                   tables: Mapping[str, list[list[CellValue]]] | None = None,
                   years: PriceYears | None = None) -> tuple[PriceYears, Scenarios]:
    """The full price years held and the scenarios made of them (each valued under the
    Deal tab's method): what the deal, and every size of the sweep, is valued on."""
    b = inputs.battery
    if not (b.import_power_kw and b.export_power_kw and b.duration_h and b.cycles_per_day):
        first, last = bess.input("import_power_kw").cell, bess.input("cycles_per_day").cell
        raise InputError(first, b.import_power_kw, f"the battery in {first}:{last} (kW, kW, h, "
                         "cycles/day): the Deal tab dispatches it over every price year",
                         "is blank")
    years = years or held_years(warehouse, inputs.site.price_basis)
    found = scenario_years(bess, inputs, warehouse, years.full, tables,
                           charges_from=ChargesFrom(values.text("charges_from")),
                           realistic=values.text("method") == "realistic")
    if not found.years:
        raise PriceDataError(
            "the Deal tab needs at least one full calendar year of prices it can value; the "
            f"warehouse ({warehouse.description}) holds "
            + ", ".join([str(y) for y in years.full] + list(years.partial) or ["none"])
            + (f"; left out: {left_out_text(found.left_out)}" if found.left_out else ""),
            cell=None)
    return years, found


def inputs_digest(bess: BessLayout, sheet: object, inputs: RefreshInputs,
                  values: DealSheetInputs, tables: Mapping[str, list[list[CellValue]]] | None,
                  years: PriceYears, warehouse: wh.PriceWarehouse) -> str:
    """``deal_digest`` of what a sweep of this sheet (``sheet``: its id and tab) rests on:
    the full price years, not the partial ones (the nightly ingest lengthens the latest
    partial year without changing any scenario)."""
    return deal_digest(sheet, inputs, values.values, values.fade_table,
                       (tables or {}).get(bess.hh_data_tab), years.full, warehouse.description)


def size_grid(inputs: RefreshInputs, values: DealSheetInputs
              ) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """The sizing grid's powers (kW) and durations (h), or None when sizing is off."""
    steps = int(values.number("sizing_steps"))
    b = inputs.battery
    if steps < 2:
        return None
    assert b.export_power_kw and b.duration_h
    return (grid_axis(b.export_power_kw, values.optional("sizing_power_min_kw"),
                      values.optional("sizing_power_max_kw"), steps, 1.0),
            grid_axis(b.duration_h, values.optional("sizing_duration_min_h"),
                      values.optional("sizing_duration_max_h"), steps, 0.1))


def run_deal(bess: BessLayout, deal_layout: DealLayout, inputs: RefreshInputs,
             values: DealSheetInputs, warehouse: wh.PriceWarehouse,
             tables: Mapping[str, list[list[CellValue]]] | None = None,
             deadline: float | None = None, workers: int | None = None,
             sweep: Sweep | None = None, sheet: object = None) -> DealOutcome:
    """The deal: every scenario under the method and the ceiling, and the sizing grid (in a
    process pool here, or by ``sweep``, which may raise SizingPending)."""
    started = time.perf_counter()
    b = inputs.battery
    method = values.text("method")
    years, found = deal_scenarios(bess, inputs, values, warehouse, tables)
    scenarios = found.years
    terms = deal_terms(inputs, values)
    capacities = valuation_points(terms.degradation)
    wear = terms.wear_gbp_per_mwh
    points, top = figures_at(scenarios, method, terms.power_kw, terms.energy_kwh, capacities,
                             wear, ceiling=True)
    main = core.value_deal(points, terms)
    ceiling = None if method == CEILING_METHOD else core.value_deal(top, terms, band=False)
    grid = None
    if (axes := size_grid(inputs, values)) is not None:
        assert b.export_power_kw and b.duration_h  # deal_scenarios checked
        known = {(b.export_power_kw, b.duration_h): main.npv["p50"]}
        if sweep is None:
            grid = sizing(scenarios, method, terms, *axes, workers, deadline, known)
        else:
            grid = sweep(SweepJob(scenarios, method, terms, *axes, known, inputs_digest(
                bess, sheet, inputs, values, tables, years, warehouse)))
    valued = tuple(s.name for s in scenarios)
    held = len(years.full)
    notes = [f"price years valued: {', '.join(valued)} ({len(valued)} of the {held} full "
             f"years held), each repeated over the {terms.term_years}-year term"]
    if found.left_out:
        notes.append("LEFT OUT: " + left_out_text(found.left_out))
    if years.partial:
        notes.append("partial price years left out: " + ", ".join(years.partial))
    notes += [found.charges_note, found.demand_note,
              f"dispatch {method}" + ("" if method == CEILING_METHOD else
                                      ", with optimal (perfect foresight) beside as the ceiling")
              + f"; wear £{wear:,.2f}/MWh discharged in "
              + ("the ceiling's objective (greedy's rule has none)" if method == "greedy"
                 else "every schedule's objective")
              + f"; at usable capacities {', '.join(f'{c:.0%}' for c in capacities)} of "
              "nameplate, interpolated"]
    if found.forecast_note:
        notes.append(found.forecast_note)
    return DealOutcome(method, main, ceiling, grid, tuple(notes), time.perf_counter() - started,
                       valued, found.left_out, years.partial)


def with_battery(inputs: RefreshInputs, power_kw: float, duration_h: float) -> RefreshInputs:
    return replace(inputs, battery=replace(inputs.battery, import_power_kw=power_kw,
                                           export_power_kw=power_kw, duration_h=duration_h))
