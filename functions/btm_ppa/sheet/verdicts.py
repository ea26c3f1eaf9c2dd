"""Verdicts on a refresh's figures: whether the bands are priced (the sheet method), how
the methods compare, and what row 62 says of a simulated schedule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from btm_ppa.core import dispatch, periods
from btm_ppa.core.results import ResultTable
from btm_ppa.core.vocab import BANDS, DuosBand, Method
from btm_ppa.errors import InputError
from btm_ppa.sheet.inputs import RefreshInputs
from sheets_layout import BessLayout


def schedule_status(problem: dispatch.DispatchProblem, method: Method,
                     schedule: dispatch.Schedule, best: dispatch.OptimalResult | None,
                     warnings: list[str]) -> str:
    """The status of a simulated refresh. An optimum is never worse than leaving the battery
    idle (idle is feasible), so an ``optimal`` answer that is (a search cut short by its
    deadline or memory budget, answering with the rule's schedule) says so in row 62, not
    OK; under ``greedy`` the rule losing money is a warning beside OK."""
    loss = -dispatch.battery_value_gbp(problem, schedule)
    if loss <= dispatch.PROFIT_TOLERANCE_GBP:
        return "OK"
    if method is not Method.OPTIMAL:  # the rule, or a plan on forecasts, may lose money
        warnings.append(f"the {method.value} schedule earns £{loss:,.2f} less than leaving "
                        "the battery idle")
        return "OK"
    gap = f" (within £{best.gap_gbp:,.2f} of the bound)" if best is not None else ""
    return (f"WARNING: the optimal search did not finish{gap}; the schedule it answered "
            f"with earns £{loss:,.2f} less than leaving the battery idle, so these figures "
            "are not an optimum: shorten the window B20:B21, or check the battery's inputs "
            "(column F) against the site")


def compare_methods(optimal: ResultTable, greedy: ResultTable) -> str:
    """"optimal +£12,400.00 (+5.4%) vs the battery-first rule"."""
    gain = optimal.total.profit_gbp - greedy.total.profit_gbp
    base = abs(greedy.total.profit_gbp)
    share = f" ({gain / base:+.1%})" if base else ""
    sign = "+" if gain >= 0 else "-"
    return f"optimal {sign}£{abs(gain):,.2f}{share} vs the battery-first rule (greedy)"


def check_bands_priced(layout: BessLayout, inputs: RefreshInputs,
                        counts: Mapping[DuosBand, int], window_cells: str) -> None:
    for block, spec in ((inputs.non_bess, layout.non_bess), (inputs.bess, layout.bess)):
        assert block is not None
        for band in BANDS:
            volume = block.duos[band].volume_mwh
            if volume > 0 and counts[band] == 0:
                cell = spec.volume_cell(layout.block_row(f"{band}_duos")).cell
                raise InputError(
                    cell, volume,
                    f"0 MWh, or a window ({window_cells}) that holds {band} periods",
                    f"has {band} volume but the window has no {band} period to price it")


def published_rate_notes(layout: BessLayout, inputs: RefreshInputs,
                          now: dt.datetime) -> list[str]:
    """How B10:D10 compare with the charging statement's rates for the tariff in B8."""
    from btm_ppa.reference.tables import published_rates

    if not inputs.duos_tariff:
        return []
    day = inputs.window_end or now.date()
    tariff_cell = layout.input("duos_tariff").cell
    rates = published_rates(inputs.area, inputs.duos_tariff, day, tariff_cell)
    if rates is None:
        return [f"no {inputs.area.dno} charging statement for {periods.charging_year_of(day)} "
                "is held, so B10:D10 were not compared with published rates"]
    typed = {b: v for b in BANDS if (v := inputs.duos_p_per_kwh[b]) is not None}
    differ = [f"{layout.input(f'duos_{b}_p_per_kwh').cell} {v:g} vs {p:g}" for b, v in
              typed.items() if abs(v - (p := getattr(rates, f"{b}_p_per_kwh"))) > 5e-4]
    if not differ:  # blank cells take the published rates
        return [f"B10:D10 match the published {rates.charging_year} rates of {rates.tariff_name!r}"]
    return [f"DUoS rates differ from the published {rates.charging_year} {rates.tariff_name!r} "
            f"rates (p/kWh): {'; '.join(differ)}"]
