"""The per-MWh levies of a charging year's periods (TNUoS per MWh, BSUoS, CCL, RO, FiT):
typed (an override, flagged when far from the table), or the table's rate of each
period; a period no table holds is an error naming the cell."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import holidays
import numpy as np
import numpy.typing as npt

from btm_ppa.core.units import KW_PER_MW, mwh_per_period_to_mw
from btm_ppa.errors import InputError, InputErrors
from btm_ppa.reference import charge_tables as tables
from btm_ppa.sheet.inputs import RefreshInputs
from sheets_layout import BessLayout

FloatArray = npt.NDArray[np.float64]

#: A typed rate more than this factor above or below the table's is flagged in row 62.
OVERRIDE_FACTOR = 1.5


class Errors:
    """InputErrors gathered across charges, one per cell."""

    def __init__(self) -> None:
        self.errors: list[InputError] = []

    def add(self, error: InputError) -> None:
        if not any(e.cell == error.cell for e in self.errors):
            self.errors.append(error)

    def raise_if_any(self) -> None:
        if self.errors:
            raise self.errors[0] if len(self.errors) == 1 else InputErrors(self.errors)


def differs(typed: float, table: float) -> bool:
    if table == 0 or typed == 0:
        return abs(typed - table) > 1e-9 and max(abs(typed), abs(table)) > 0
    ratio = typed / table
    return ratio > OVERRIDE_FACTOR or ratio < 1 / OVERRIDE_FACTOR


def apply_levies(layout: BessLayout, inputs: RefreshInputs, rates: dict[str, FloatArray],
            rows: npt.NDArray[np.bool_], dates: npt.NDArray[np.object_], year: str,
            errors: Errors, warnings: list[str]) -> dict[str, str]:
    """The per-MWh levies of one charging year's periods: typed, or the table's."""
    cell = lambda key: layout.input(key).cell  # noqa: E731
    levies = inputs.levies
    applied: dict[str, str] = {}

    def by_year(key: str, name: str, typed: float | None,
                lookup: Callable[[str], tables.Rate | None], what: str) -> None:
        found = lookup(year)
        if typed is not None:
            rates[key][rows] = typed
            applied[name] = f"{typed:g} £/MWh typed"
            if found is not None and differs(typed, found.value):
                warnings.append(f"{cell(what)} typed {typed:g} £/MWh differs from the "
                                      f"table's {found.value:g} £/MWh ({name}, {year}) by more "
                                      f"than x{OVERRIDE_FACTOR:g}")
        elif found is not None:
            rates[key][rows] = found.value
            applied[name] = f"{found.value:g} £/MWh ({found.confidence})"
        else:
            errors.add(InputError(cell(what), None, f"the {name} rate in £/MWh for {year} "
                                  "(no table holds it)", "is blank"))

    # TNUoS per MWh: none for half-hourly demand (the residual is per day from April 2023).
    rates["tnuos"][rows] = levies.tnuos_gbp_per_mwh or 0.0
    if levies.tnuos_gbp_per_mwh:
        applied["TNUoS"] = f"{levies.tnuos_gbp_per_mwh:g} £/MWh typed"
    # BSUoS: fixed tariff per half-year from April 2023, typed before.
    if levies.bsuos_gbp_per_mwh is not None:
        by_year("bsuos", "BSUoS", levies.bsuos_gbp_per_mwh, lambda _y: None, "bsuos_gbp_per_mwh")
        days = sorted(set(dates[rows]))
        for day in (days[0], days[-1]):
            found = tables.bsuos_gbp_per_mwh(day)
            if found is not None and differs(levies.bsuos_gbp_per_mwh, found.value):
                warnings.append(
                    f"{cell('bsuos_gbp_per_mwh')} typed {levies.bsuos_gbp_per_mwh:g} £/MWh "
                    f"differs from the table's {found.value:g} £/MWh (BSUoS, {day}) by more "
                    f"than x{OVERRIDE_FACTOR:g}")
                break
    else:
        idx = np.flatnonzero(rows)
        missing = []
        seen: dict[float, None] = {}
        for day in sorted(set(dates[rows])):
            found = tables.bsuos_gbp_per_mwh(day)
            sel = idx[dates[idx] == day]
            if found is None:
                missing.append(day)
            else:
                rates["bsuos"][sel] = found.value
                seen[found.value] = None
        if missing:
            errors.add(InputError(
                cell("bsuos_gbp_per_mwh"), None,
                f"the BSUoS rate in £/MWh for {missing[0]} to {missing[-1]} (the fixed tariff "
                f"is held from {tables.BSUOS_FIXED_FROM}; before it BSUoS was a half-hourly "
                "price)", "is blank"))
        applied["BSUoS"] = "/".join(f"{v:g}" for v in seen) + " £/MWh (fixed tariff)"
    by_year("ccl", "CCL", levies.ccl_gbp_per_mwh, tables.ccl_gbp_per_mwh, "ccl_gbp_per_mwh")
    by_year("ro", "RO", levies.ro_gbp_per_mwh, tables.ro_gbp_per_mwh, "ro_gbp_per_mwh")
    by_year("fit", "FiT", levies.fit_gbp_per_mwh, lambda _y: None, "fit_gbp_per_mwh")
    if levies.cca:
        discount = tables.cca_discount_frac(year) or tables.CCA_DISCOUNT_FRAC
        rates["ccl"][rows] *= 1.0 - discount
        applied["CCL"] += f" x {1.0 - discount:.0%} (CCA)"
    return applied


def _by_day(rates: FloatArray, rows: npt.NDArray[np.bool_], dates: npt.NDArray[np.object_],
            lookup: Callable[[dt.date], tables.Rate | None]) -> tuple[list[dt.date], set[float]]:
    """Each day's rate into its periods; the days with none held, and the rates seen."""
    idx = np.flatnonzero(rows)
    missing, seen = [], set()
    for day in sorted(set(dates[rows])):
        found = lookup(day)
        if found is None:
            missing.append(day)
        else:
            rates[idx[dates[idx] == day]] += found.value
            seen.add(found.value)
    return missing, seen


def apply_other_levies(layout: BessLayout, inputs: RefreshInputs, rates: dict[str, FloatArray],
                       rows: npt.NDArray[np.bool_], period: PeriodInfo, year: str,
                       errors: Errors, applied: dict[str, str]) -> None:
    """CfD, Capacity Market, AAHEDC and Nuclear RAB (into ``rates["other"]``, before
    losses) and the Triad charge (into ``rates["tnuos"]``) of one charging year."""
    cell = lambda key: layout.input(key).cell  # noqa: E731
    levies, other = inputs.levies, rates["other"]
    for key, name, typed, lookup in (
            ("cfd_gbp_per_mwh", "CfD", levies.cfd_gbp_per_mwh, tables.cfd_gbp_per_mwh),
            ("nuclear_rab_gbp_per_mwh", "Nuclear RAB", levies.nuclear_rab_gbp_per_mwh,
             tables.nuclear_rab_gbp_per_mwh)):
        if typed is not None:
            other[rows] += typed
            applied[name] = f"{typed:g} £/MWh typed"
            continue
        levied = rows & np.array([d >= tables.NUCLEAR_RAB_FROM for d in period.dates],
                                 dtype=bool) if name == "Nuclear RAB" else rows
        missing, seen = _by_day(other, levied, period.dates, lookup)
        if missing:
            errors.add(InputError(cell(key), None, f"the {name} rate in £/MWh for "
                                  f"{missing[0]} to {missing[-1]} (not held)", "is blank"))
        elif seen:
            applied[name] = "/".join(f"{v:g}" for v in sorted(seen)) + " £/MWh (table)"
        elif name == "Nuclear RAB":
            applied[name] = "none before December 2025"
    found = tables.aahedc_gbp_per_mwh(year)
    if levies.aahedc_gbp_per_mwh is not None:
        other[rows] += levies.aahedc_gbp_per_mwh
        applied["AAHEDC"] = f"{levies.aahedc_gbp_per_mwh:g} £/MWh typed" + (
            f" (not held for {year}: an assumption)" if found is None else "")
    elif found is None:
        errors.add(InputError(cell("aahedc_gbp_per_mwh"), None,
                              f"the AAHEDC rate in £/MWh for {year} (held: 2025/26 only)",
                              "is blank"))
    else:
        other[rows] += found.value
        applied["AAHEDC"] = f"{found.value:g} £/MWh ({found.confidence})"
    # Capacity Market: import 16:00-19:00 UK clock on working days (not a weekend, nor a
    # bank holiday in England and Wales: the Electricity Capacity Regulations' working
    # day), November-February.
    peak = rows & capacity_market_periods(period)
    if peak.any():
        if levies.cm_gbp_per_mwh is None:
            days = sorted(set(period.dates[peak]))
            errors.add(InputError(cell("cm_gbp_per_mwh"), None,
                                  f"the Capacity Market supplier charge in £/MWh of import "
                                  f"16:00-19:00 on working days of November-February: the "
                                  f"window holds {int(peak.sum())} such periods, {days[0]} to "
                                  f"{days[-1]} (no table held)", "is blank"))
        else:
            other[peak] += levies.cm_gbp_per_mwh
            applied["CM"] = (f"{levies.cm_gbp_per_mwh:g} £/MWh typed (no table held: an "
                             f"assumption) on {int(peak.sum())} winter peak periods")
    # Triad: £/kW on the mean import (kW) of the three Triad half-hours, i.e. per metered
    # MWh in a Triad period, tariff x 2,000 kW per MWh-in-half-an-hour / 3.
    held = tables.triads().get(year)
    if held is None:
        if rows.any() and levies.triad_gbp_per_kw:
            applied["Triad"] = f"dates not held for {year}: no Triad charge"
        return
    triad = rows & np.isin([f"{d}:{sp}" for d, sp in zip(period.dates, period.sp, strict=True)],
                           [f"{d}:{sp}" for d, sp in held])
    if not triad.any():
        return
    if levies.triad_gbp_per_kw is None:
        errors.add(InputError(cell("triad_gbp_per_kw"), None,
                              f"the half-hourly TNUoS locational demand tariff in £/kW: the "
                              f"window holds {int(triad.sum())} of {year}'s Triads ("
                              + ", ".join(f"{d} SP{sp}" for d, sp in held
                                          if any((period.dates == d) & (period.sp == sp) & rows))
                              + "; type 0 where the zone's tariff is 0)", "is blank"))
        return
    kw_per_mwh = mwh_per_period_to_mw(1.0) * KW_PER_MW  # 1 MWh in a half hour = 2,000 kW
    rates["tnuos"][triad] += levies.triad_gbp_per_kw * kw_per_mwh / len(held)
    applied["Triad"] = (f"£{levies.triad_gbp_per_kw:g}/kW typed (tariff not held: an "
                        f"assumption) on {int(triad.sum())} Triad periods")


def capacity_market_periods(period: PeriodInfo) -> npt.NDArray[np.bool_]:
    """Periods the CM supplier charge is levied on: 16:00-19:00 UK clock, working days
    of November-February (weekends and England and Wales bank holidays out)."""
    years = sorted({d.year for d in period.dates})
    bank = set(holidays.UK(subdiv="ENG", years=years)) if years else set()
    winter = np.array([d.month in (11, 12, 1, 2) and d not in bank for d in period.dates],
                      dtype=bool)
    return winter & ~period.weekend & (period.slot >= 32) & (period.slot < 38)


@dataclass(frozen=True)
class PeriodInfo:
    """What the levies need of each period: settlement date and period, UK clock slot."""

    dates: npt.NDArray[np.object_]
    sp: npt.NDArray[np.int64]
    slot: npt.NDArray[np.int64]
    weekend: npt.NDArray[np.bool_]
