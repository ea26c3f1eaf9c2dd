"""Published per-day charges for a site: the DUoS fixed and capacity rates of a tariff,
the residual charging band of an agreed capacity at a voltage, and the TNUoS demand
residual of that band, for each charging year of a window.

A charge typed in its cell is used for every day; a blank one is looked up per charging
year where the shipped statements hold it, and is zero (with a note saying so) where they
do not.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import pandas as pd

from btm_ppa.core.area import GspGroup
from btm_ppa.core.charges import DailyCharges, residual_band
from btm_ppa.core.periods import charging_year_of
from btm_ppa.core.units import p_to_gbp
from btm_ppa.core.vocab import VoltageLevel
from btm_ppa.reference import files as reference
from btm_ppa.reference.tables import _parsed, published_rates

TNUOS_RESIDUAL_FILE = "gb_tnuos_demand_residual_tariffs.csv"
#: Charging years whose residual band thresholds are shipped, latest first.
HELD_BAND_YEARS = ("2026/27", "2025/26")

#: The residual-band category of the thresholds table for each voltage (sites billed on
#: an agreed capacity, MIC, in kVA).
_BAND_CATEGORY = {
    VoltageLevel.LV: "Designated Properties connected at LV, billing with MIC",
    VoltageLevel.HV: "Designated Properties connected at HV",
    VoltageLevel.EHV: "Designated EHV Properties",
}


@dataclass(frozen=True)
class ResidualBand:
    charging_year: str
    voltage: VoltageLevel
    band: int
    lower_kva: float
    upper_kva: float

    def describe(self) -> str:
        upper = "and above" if self.upper_kva == float("inf") else f"to {self.upper_kva:g} kVA"
        return (f"{self.voltage.value} residual band {self.band} ({self.lower_kva:g} "
                f"{upper}, {self.charging_year})")


def charging_year_days(start: dt.date, end: dt.date) -> dict[str, int]:
    """Days of the window in each charging year (1 April - 31 March), in order."""
    days: dict[str, int] = {}
    for offset in range((end - start).days + 1):
        year = charging_year_of(start + dt.timedelta(days=offset))
        days[year] = days.get(year, 0) + 1
    return days


def find_residual_band(group: GspGroup, voltage: VoltageLevel, capacity_kva: float,
                       charging_year: str) -> ResidualBand | None:
    """The residual band of an agreed capacity, from the DNO's statement for the year
    (thresholds are held for 2025/26 and 2026/27); None when not held."""
    table = _parsed("duos_residual_bands")[0]
    rows = table[(table["distributor_id"] == str(group.distributor_id))
                 & (table["charging_year"] == charging_year[:4])
                 & (table["category"] == _BAND_CATEGORY[voltage])]
    if rows.empty:
        return None
    bounds = [(int(r.band), float(r.lower_threshold),
               float("inf") if r.upper_threshold in ("∞", "") else float(r.upper_threshold))
              for r in rows.itertuples()]
    band = residual_band(bounds, capacity_kva)
    lower, upper = next((lo, up) for b, lo, up in bounds if b == band)
    return ResidualBand(charging_year, voltage, band, lower, upper)


@functools.cache
def _tnuos_residual_table() -> pd.DataFrame:
    with reference.data_path(TNUOS_RESIDUAL_FILE).open("rb") as fh:
        return pd.read_csv(fh, dtype={"band": int})


def tnuos_residual_gbp_per_day(band: ResidualBand) -> float | None:
    """The TNUoS demand residual of a band, where the shipped table holds it. [£/site/day]"""
    table = _tnuos_residual_table()
    row = table[(table["charging_year"] == band.charging_year)
                & (table["voltage"] == band.voltage.value) & (table["band"] == band.band)]
    return None if row.empty else float(row["gbp_per_site_per_day"].iloc[0])


@dataclass(frozen=True)
class SiteCharges:
    """Typed or looked-up per-day charges, one span per charging year, and what was done."""

    spans: tuple[DailyCharges, ...]
    notes: tuple[str, ...]
    bands: tuple[ResidualBand, ...]


@dataclass(frozen=True)
class _Found:
    """One charge of one charging year: its value, and what was looked up or why zero."""

    value: float
    looked_up: str | None = None
    zero_because: str | None = None


_LABELS = {"duos_fixed_gbp_per_day": "DUoS fixed",
           "duos_capacity_p_per_kva_day": "DUoS capacity",
           "tnuos_residual_gbp_per_day": "TNUoS residual"}
_TARIFF_COLUMN = {"duos_fixed_gbp_per_day": "fixed_p_per_mpan_day",
                  "duos_capacity_p_per_kva_day": "capacity_p_per_kva_day"}


def site_charges(*, group: GspGroup, voltage: VoltageLevel | None, tariff: str | None,
                 tariff_cell: str, start: dt.date, end: dt.date,
                 capacity_kva: float | None, typed: dict[str, float | None],
                 cells: dict[str, str]) -> SiteCharges:
    """Per-day charges of each charging year of the window.

    ``typed`` holds the three cells' values by key (``duos_fixed_gbp_per_day``,
    ``duos_capacity_p_per_kva_day``, ``tnuos_residual_gbp_per_day``), None when blank;
    ``cells`` their addresses and those of ``voltage_level`` and
    ``agreed_import_capacity_kva``, for the notes.
    """
    spans = []
    found: dict[str, list[tuple[str, _Found]]] = {key: [] for key in _LABELS}
    bands = []
    for year, days in charging_year_days(start, end).items():
        values: dict[str, float] = {}
        for key in _LABELS:
            value = typed[key]
            if value is not None:
                values[key] = float(value)
                continue
            if key in _TARIFF_COLUMN:
                result = _duos_charge(key, group, tariff, tariff_cell, year)
            else:
                band = (find_residual_band(group, voltage, capacity_kva, year)
                        if voltage is not None and capacity_kva is not None else None)
                bands += [band] if band is not None else []
                blank = [cells[k] for k, v in (("voltage_level", voltage),
                                               ("agreed_import_capacity_kva", capacity_kva))
                         if v is None]
                result = _tnuos_residual(band, blank)
            values[key] = result.value
            found[key].append((year, result))
        spans.append(DailyCharges(days=days, **values))
    notes = []
    for key, results in found.items():
        if not results:
            continue  # typed
        looked_up = [r.looked_up for _, r in results if r.looked_up]
        zero = [(year, r.zero_because) for year, r in results if r.zero_because]
        parts = (["looked up " + "; ".join(looked_up)] if looked_up else []) + (
            ["0 for " + _group_years(zero)] if zero else [])
        notes.append(f"{cells[key]} blank: {_LABELS[key]} " + ", ".join(parts))
    return SiteCharges(tuple(spans), tuple(notes), tuple(bands))


def _duos_charge(key: str, group: GspGroup, tariff: str | None, tariff_cell: str,
                 year: str) -> _Found:
    """The tariff's published fixed (p/MPAN/day, returned in £/day) or capacity
    (p/kVA/day) charge for a charging year."""
    if not tariff:
        return _Found(0.0, zero_because=f"{tariff_cell} is blank")
    rates = published_rates(group, tariff, dt.date(int(year[:4]), 4, 1), tariff_cell)
    if rates is None:
        return _Found(0.0, zero_because=f"no {group.dno} statement held")
    published = _tariff_column(group, rates.tariff_name, year, _TARIFF_COLUMN[key])
    if published is None:
        return _Found(0.0, zero_because=f"{rates.tariff_name!r} has none in {year}")
    fixed = key == "duos_fixed_gbp_per_day"
    unit = "p/day" if fixed else "p/kVA/day"
    return _Found(p_to_gbp(published) if fixed else published,
                  looked_up=f"{published:g} {unit} ({rates.tariff_name}, {year})")


def _tnuos_residual(band: ResidualBand | None, blank_cells: list[str]) -> _Found:
    if blank_cells:
        return _Found(0.0, zero_because=f"{' and '.join(blank_cells)} blank")
    if band is None:
        return _Found(0.0, zero_because="no band thresholds held")
    price = tnuos_residual_gbp_per_day(band)
    if price is None:
        return _Found(0.0, zero_because=f"no published £/day held for {band.describe()}")
    return _Found(price, looked_up=f"£{price:g}/day ({band.describe()})")


def _group_years(reasons: list[tuple[str, str]]) -> str:
    """[("2022/23", "x"), ("2023/24", "x")] -> "2022/23, 2023/24 (x)"."""
    by_reason: dict[str, list[str]] = {}
    for year, why in reasons:
        by_reason.setdefault(why, []).append(year)
    return "; ".join(f"{', '.join(years)} ({why})" for why, years in by_reason.items())


def _tariff_column(group: GspGroup, tariff_name: str, year: str, column: str) -> float | None:
    rates = _parsed("duos_unit_rates")[0]
    row = rates[(rates["gsp_group"] == group.gsp_group_id) & (rates["charging_year"] == year)
                & (rates["tariff_name"] == tariff_name)]
    if row.empty or pd.isna(row[column].iloc[0]):
        return None
    return float(row[column].iloc[0])
