"""GB charge tables by charging year (1 April - 31 March), shipped in ``data/charges``
(copied unchanged from the project's shared data; ``data/charges/SOURCES.md`` gives every
file's source, confidence and holes).

Each lookup answers a :class:`Rate` (value, unit, source, confidence) or None where the
table does not hold the year: the caller then needs a typed value, never a silent 0.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import re
from dataclasses import dataclass
from io import StringIO

from btm_ppa.core.duos import TimeBands, day_band_slots
from btm_ppa.reference import files as reference

FOLDER = "charges"
DUOS_TARIFFS_FILE = "duos_tariffs_lv_hv_2022-23_to_2026-27.csv"
TIME_BANDS_FILE = "duos_time_bands_2022-23_to_2026-27.csv"
RESIDUAL_FILE = "duos_residual_bands_and_tnuos_mapping.csv"
TDR_FILE = "tnuos_demand_residual_2023-24_to_2026-27.csv"
TRIADS_FILE = "tnuos_triads_2022-23_to_2025-26.csv"
BSUOS_FILE = "bsuos_fixed_tariff.csv"
CCL_FILE = "ccl.csv"
RO_FILE = "ro.csv"
AAHEDC_FILE = "aahedc.csv"
LEVIES_FILE = "gb_non_commodity_rates_2024-2026.csv"
CFD_FILE = "cfd_interim_levy_rates.csv"

#: The first day of the fixed BSUoS tariff; before it BSUoS was a half-hourly price.
BSUOS_FIXED_FROM = dt.date(2023, 4, 1)
#: The first day of the TNUoS demand residual as a £/site/day charge (TCR).
TDR_FROM = dt.date(2023, 4, 1)
#: The Climate Change Agreement discount on electricity CCL where no year row says (92 %).
CCA_DISCOUNT_FRAC = 0.92


@dataclass(frozen=True)
class Rate:
    """One published rate and where it came from."""

    value: float
    unit: str
    source: str  # file (and the row's own source where it has one)
    confidence: str = "high"

    def describe(self) -> str:
        return f"{self.value:g} {self.unit} ({self.source}; {self.confidence} confidence)"


def _rows(name: str) -> list[dict[str, str]]:
    text = reference.data_path(f"{FOLDER}/{name}").read_text(encoding="utf-8")
    return list(csv.DictReader(StringIO(text)))


def _number(text: str) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


def normalise_tariff(name: str) -> str:
    """A tariff name as its key: case and spaces folded, "or CT" dropped (2025/26 on),
    "(related MPAN)" in one case."""
    text = re.sub(r"\s+or CT\b", "", name.strip(), flags=re.IGNORECASE)
    return " ".join(text.split()).casefold()


# ----------------------------------------------------------------------------- DUoS ----
@dataclass(frozen=True)
class DuosTariff:
    charging_year: str
    gsp_group_id: str
    name: str  # as published
    key: str  # normalised ("lv site specific band 2")
    voltage: str
    red_p_per_kwh: float
    amber_p_per_kwh: float
    green_p_per_kwh: float
    fixed_p_per_day: float | None
    capacity_p_per_kva_day: float | None
    exceeded_p_per_kva_day: float | None
    llfcs: str
    statement: str

    @property
    def source(self) -> str:
        return f"{self.statement} ({DUOS_TARIFFS_FILE})"


@functools.cache
def duos_tariffs() -> dict[tuple[str, str, str], DuosTariff]:
    """Every LV/HV half-hourly tariff, by (charging year, GSP group, tariff key)."""
    out = {}
    for r in _rows(DUOS_TARIFFS_FILE):
        key = normalise_tariff(r["tariff_key"])
        out[(r["charging_year"], r["gsp_group"], key)] = DuosTariff(
            r["charging_year"], r["gsp_group"], r["tariff_name"], key, r["voltage"],
            float(r["red_unit_p_per_kwh"]), float(r["amber_unit_p_per_kwh"]),
            float(r["green_unit_p_per_kwh"]), _number(r["fixed_p_per_mpan_per_day"]),
            _number(r["capacity_p_per_kva_per_day"]),
            _number(r["exceeded_capacity_p_per_kva_per_day"]), r["open_llfcs"],
            r["statement_title"])
    return out


def duos_tariff(charging_year: str, gsp_group_id: str, tariff: str) -> DuosTariff | None:
    return duos_tariffs().get((charging_year, gsp_group_id, normalise_tariff(tariff)))


def duos_years() -> tuple[str, ...]:
    return tuple(sorted({year for year, _, _ in duos_tariffs()}))


def tariff_names(charging_year: str, gsp_group_id: str) -> list[str]:
    return sorted(t.name for (y, g, _), t in duos_tariffs().items()
                  if y == charging_year and g == gsp_group_id)


@functools.cache
def time_bands() -> dict[tuple[str, str], TimeBands]:
    """Red/Amber/Green slots by (GSP group, charging year), 2022/23 to 2026/27."""
    by_key: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
    for r in _rows(TIME_BANDS_FILE):
        by_key.setdefault((r["gsp_group"], r["charging_year"]), {})[r["day_type"]] = r
    out = {}
    for (group, year), days in by_key.items():
        slots = {kind: day_band_slots(days[kind]["red_times"], days[kind]["amber_times"],
                                      days[kind]["green_times"]) for kind in ("weekday", "weekend")}
        out[(group, year)] = TimeBands(group, year, slots["weekday"], slots["weekend"])
    return out


def time_band_texts(gsp_group_id: str, charging_year: str) -> dict[str, dict[str, str]]:
    """The published band times of a year ("16:00-19:00"), by day type and band."""
    return {r["day_type"]: {b: r[f"{b}_times"] for b in ("red", "amber", "green")}
            for r in _rows(TIME_BANDS_FILE)
            if r["gsp_group"] == gsp_group_id and r["charging_year"] == charging_year}


# ------------------------------------------------------------------ residual bands ----
#: Residual-band category of each tariff family, as in the thresholds table.
_CATEGORY = {"non-domestic aggregated": "LV no MIC (Non-Domestic Aggregated)",
             "lv site specific": "LV with MIC (LV Site Specific)",
             "lv sub site specific": "LV Sub Site Specific",
             "hv site specific": "HV Site Specific"}
#: TNUoS demand residual band prefix of each tariff family (the statements' "TNUoS
#: Mapping": Band n -> prefix + n; No Residual and related MPAN: not a final demand site).
_TDR_PREFIX = {"non-domestic aggregated": "LV_NoMIC_", "lv site specific": "LV",
               "lv sub site specific": "LV", "hv site specific": "HV"}


def tariff_family(key: str) -> str | None:
    for family in sorted(_CATEGORY, key=len, reverse=True):
        if key.startswith(family):
            return family
    return None


def tariff_band(key: str) -> int | None:
    found = re.search(r"band (\d)$", key)
    return int(found.group(1)) if found else None


def tdr_band_of(key: str) -> str | None:
    """The TNUoS demand residual band of a DUoS tariff ("lv site specific band 2" ->
    "LV2"); None for No Residual and related-MPAN tariffs."""
    family, band = tariff_family(key), tariff_band(key)
    return None if family is None or band is None else f"{_TDR_PREFIX[family]}{band}"


@dataclass(frozen=True)
class ResidualBand:
    charging_year: str
    category: str
    band: int
    lower: float
    upper: float  # inf for the top band
    units: str

    def describe(self) -> str:
        span = (f"above {self.lower:,g}" if self.upper == float("inf")
                else f"{self.lower:,g} to {self.upper:,g}")
        return (f"residual band {self.band} ({self.category}, {span} {self.units}, "
                f"{self.charging_year})")


@functools.cache
def _thresholds() -> dict[tuple[str, str], list[tuple[int, float, float, str]]]:
    """National thresholds by (charging year, category): (band, lower, upper, units)."""
    out: dict[tuple[str, str], dict[int, tuple[int, float, float, str]]] = {}
    for r in _rows(RESIDUAL_FILE):
        if r["record_type"] != "residual_band_threshold" or not r["band"].isdigit():
            continue
        upper = _number(r["upper_threshold_inclusive"])
        out.setdefault((r["charging_year"], r["category_std"]), {})[int(r["band"])] = (
            int(r["band"]), float(r["lower_threshold_exclusive"] or 0),
            float("inf") if upper is None else upper, r["units"])
    return {k: sorted(v.values()) for k, v in out.items()}


def threshold_years() -> tuple[str, ...]:
    return tuple(sorted({year for year, _ in _thresholds()}))


def residual_band(charging_year: str, family: str, amount: float) -> ResidualBand | None:
    """The band whose (lower, upper] holds ``amount`` (kVA, or kWh/year for aggregated
    sites); None when the year's thresholds are not held. The thresholds are national."""
    category = _CATEGORY[family]
    bands = _thresholds().get((charging_year, category))
    if not bands:
        return None
    for band, lower, upper, units in bands:
        if (amount > lower or band == bands[0][0]) and amount <= upper:
            return ResidualBand(charging_year, category, band, lower, upper, units)
    band, lower, upper, units = bands[-1]
    return ResidualBand(charging_year, category, band, lower, upper, units)


@functools.cache
def tnuos_mapping() -> dict[tuple[str, str], str]:
    """The statements' DUoS tariff -> TNUoS band mapping by (charging year, tariff key)."""
    return {(r["charging_year"], normalise_tariff(r["duos_tariff_name"])): r["tnuos_band"]
            for r in _rows(RESIDUAL_FILE) if r["record_type"] == "tnuos_mapping"}


# -------------------------------------------------------------------------- TNUoS ----
@functools.cache
def _tdr() -> dict[tuple[str, str], Rate]:
    out = {}
    for r in _rows(TDR_FILE):
        value = _number(r["tdr_tariff_gbp_per_site_per_day"])
        if value is not None:
            out[(r["charging_year"], r["tdr_band"])] = Rate(
                value, "£/site/day", f"{r['source']} ({TDR_FILE})", r["confidence"])
    return out


def tdr_gbp_per_day(charging_year: str, tdr_band: str) -> Rate | None:
    return _tdr().get((charging_year, tdr_band))


@functools.cache
def triads() -> dict[str, tuple[tuple[dt.date, int], ...]]:
    """The three Triad half-hours (date, settlement period) of each held charging year."""
    out: dict[str, list[tuple[dt.date, int]]] = {}
    for r in _rows(TRIADS_FILE):
        out.setdefault(r["charging_year"], []).append(
            (dt.date.fromisoformat(r["triad_date"]), int(r["settlement_period"])))
    return {k: tuple(v) for k, v in out.items()}


# ------------------------------------------------------------------- levies by day ----
@functools.cache
def _bsuos() -> list[tuple[dt.date, dt.date, Rate]]:
    return [(dt.date.fromisoformat(r["period_start"]), dt.date.fromisoformat(r["period_end"]),
             Rate(float(r["bsuos_fixed_tariff_gbp_per_mwh"]), "£/MWh",
                  f"{r['source']} ({BSUOS_FILE})", r["confidence"]))
            for r in _rows(BSUOS_FILE) if r["is_current_in_head"] == "True"]


def bsuos_gbp_per_mwh(day: dt.date) -> Rate | None:
    """The fixed BSUoS tariff of the half-year holding ``day``."""
    return next((rate for lo, hi, rate in _bsuos() if lo <= day <= hi), None)


@functools.cache
def _by_year(name: str) -> dict[str, dict[str, str]]:
    key = "obligation_period" if name == RO_FILE else "charging_year"
    return {r[key]: r for r in _rows(name)}


def ccl_gbp_per_mwh(charging_year: str) -> Rate | None:
    row = _by_year(CCL_FILE).get(charging_year)
    if row is None:
        return None
    return Rate(float(row["ccl_main_rate_gbp_per_kwh"]) * 1000.0, "£/MWh",
                f"{row['source']} ({CCL_FILE})", row["confidence"])


def cca_discount_frac(charging_year: str) -> float | None:
    row = _by_year(CCL_FILE).get(charging_year)
    return None if row is None else float(row["cca_discount_electricity_pct"]) / 100.0


def ro_gbp_per_mwh(charging_year: str) -> Rate | None:
    row = _by_year(RO_FILE).get(charging_year)
    if row is None or not row["ro_cost_gbp_per_mwh"]:
        return None
    return Rate(float(row["ro_cost_gbp_per_mwh"]), "£/MWh", f"{row['source']} ({RO_FILE})",
                row["confidence"])


def aahedc_gbp_per_mwh(charging_year: str) -> Rate | None:
    row = _by_year(AAHEDC_FILE).get(charging_year)
    if row is None:
        return None
    return Rate(float(row["total_scheme_tariff_gbp_per_mwh"]), "£/MWh",
                f"{row['source']} ({AAHEDC_FILE})", row["confidence"].split(" ")[0])


_SPAN = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")


@functools.cache
def _levy_spans(item: str) -> list[tuple[dt.date, dt.date, Rate]]:
    out = []
    for r in _rows(LEVIES_FILE):
        found = _SPAN.search(r["period"])
        if r["item"] == item and found:
            out.append((dt.date.fromisoformat(found.group(1)),
                        dt.date.fromisoformat(found.group(2)),
                        Rate(float(r["value"]), "£/MWh", f"{r['source']} ({LEVIES_FILE})",
                             r["confidence"])))
    return out


@functools.cache
def _cfd() -> list[tuple[dt.date, dt.date, Rate]]:
    return [(dt.date.fromisoformat(r["period_start"]), dt.date.fromisoformat(r["period_end"]),
             Rate(float(r["ilr_gbp_per_mwh"]), "£/MWh", f"{r['source']} ({CFD_FILE})",
                  r["confidence"])) for r in _rows(CFD_FILE)]


def cfd_gbp_per_mwh(day: dt.date) -> Rate | None:
    """The CfD interim levy rate in force on ``day`` (in-period adjustments included where
    held), where held."""
    return next((r for lo, hi, r in _cfd() if lo <= day <= hi), None)


def nuclear_rab_gbp_per_mwh(day: dt.date) -> Rate | None:
    return next((r for lo, hi, r in _levy_spans("Nuclear RAB Interim Levy Rate")
                 if lo <= day <= hi), None)


#: The Nuclear RAB levy starts with December 2025: before, it is 0 by law, not missing.
NUCLEAR_RAB_FROM = dt.date(2025, 12, 1)
