"""DNO reference data as versioned tables (time bands, unit rates, GSP groups, residual
charging bands) for both warehouses, and the MPAN -> DNO -> bands -> rates lookup.

The source is the DNOs' published charging statements as extracted in the shipped CSVs
(the seed's plan of scraping DNO portals met 403s). Each table carries the file it came
from and a short content hash as its version.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import hashlib
import io
from dataclasses import dataclass
from typing import Any

import pandas as pd

from btm_ppa.core.area import GspGroup
from btm_ppa.core.periods import charging_year_of
from btm_ppa.errors import InputError
from btm_ppa.reference import files as reference

REFERENCE_TABLES = {
    "duos_time_bands": reference.TIME_BANDS_FILE,
    "duos_unit_rates": "duos_unit_rates_dno_lv_hv.csv",
    "gsp_groups": reference.GSP_GROUPS_FILE,
    "duos_residual_bands": "gb_duos_residual_charging_band_thresholds.csv",
}


@functools.cache
def _parsed(name: str) -> tuple[pd.DataFrame, str]:
    """A shipped reference CSV, parsed once per process, and its content hash."""
    path = reference.data_path(REFERENCE_TABLES[name])
    raw = path.read_bytes()
    frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    for column in frame.columns:
        if column.endswith(("_p_per_kwh", "_p_per_mpan_day", "_p_per_kva_day", "_p_per_kvarh")):
            frame[column] = pd.to_numeric(frame[column].replace("", None), errors="coerce")
    return frame, hashlib.sha256(raw).hexdigest()[:12]


def read_reference_table(name: str, loaded_at: dt.datetime) -> pd.DataFrame:
    """One reference table from its shipped CSV, with its version columns."""
    parsed, version = _parsed(name)
    frame = parsed.copy()
    frame["source_file"] = REFERENCE_TABLES[name]
    frame["source_version"] = version
    frame["loaded_at"] = loaded_at
    return frame


def read_all_reference_tables(loaded_at: dt.datetime | None = None) -> dict[str, pd.DataFrame]:
    loaded_at = loaded_at or dt.datetime.now(dt.UTC)
    return {name: read_reference_table(name, loaded_at) for name in REFERENCE_TABLES}


@dataclass(frozen=True)
class TariffRates:
    charging_year: str
    tariff_name: str
    red_p_per_kwh: float
    amber_p_per_kwh: float
    green_p_per_kwh: float
    statement: str


def published_rates(group: GspGroup, tariff: str, day: dt.date,
                    tariff_cell: str = "B8") -> TariffRates | None:
    """The statement's unit rates for a tariff in the charging year of ``day``, or None
    when no statement for that DNO and year is held. A tariff the statement does not have
    is an InputError naming the cell, with the nearest names."""
    year = charging_year_of(day)
    rates = _parsed("duos_unit_rates")[0]
    held = rates[(rates["gsp_group"] == group.gsp_group_id) & (rates["charging_year"] == year)]
    if held.empty:
        return None
    match = held[held["tariff_name"].str.casefold() == tariff.strip().casefold()]
    if match.empty:
        names = sorted(held["tariff_name"].unique())
        close = difflib.get_close_matches(tariff, names, n=3, cutoff=0.4)
        raise InputError(tariff_cell, tariff,
                         f"a tariff of the {group.dno} {year} statement"
                         + (f", e.g. {', '.join(close)}" if close else f" ({len(names)} held)"),
                         "is not in the charging statement")
    row = match.iloc[0]
    return TariffRates(year, str(row["tariff_name"]), float(row["red_p_per_kwh"]),
                       float(row["amber_p_per_kwh"]), float(row["green_p_per_kwh"]),
                       str(row["statement_title"]))


def _years_held(group: GspGroup) -> list[str]:
    rates = _parsed("duos_unit_rates")[0]
    return sorted(rates.loc[rates["gsp_group"] == group.gsp_group_id, "charging_year"].unique())


def _not_held(group: GspGroup, year: str) -> str:
    held = _years_held(group)
    return (f"no {group.dno} charging statement for {year} is held; held for this area: "
            + (", ".join(held) if held else "none"))


def tariffs_held(group: GspGroup, day: dt.date) -> dict[str, Any]:
    """The tariff names of the statement for the area and ``day``'s charging year, or an
    empty list and a note saying which years are held."""
    year = charging_year_of(day)
    rates = _parsed("duos_unit_rates")[0]
    held = rates[(rates["gsp_group"] == group.gsp_group_id) & (rates["charging_year"] == year)]
    names = list(dict.fromkeys(held["tariff_name"]))
    body: dict[str, Any] = {"charging_year": year, "tariffs": names}
    if not names:
        body["note"] = _not_held(group, year)
    return body


def lookup(group: GspGroup, day: dt.date, tariff: str | None = None,
           list_tariffs: bool = False) -> dict[str, Any]:
    """DNO, GSP group, the day's time bands, a tariff's unit rates if asked (or why they are
    not held), and the tariffs held if asked."""
    from btm_ppa.reference.charge_tables import time_band_texts

    bands, own = reference.read_time_bands().for_year(group.gsp_group_id, charging_year_of(day))
    texts = time_band_texts(group.gsp_group_id, bands.charging_year)
    result: dict[str, Any] = {
        "gsp_group_id": group.gsp_group_id, "gsp_group_name": group.name,
        "distributor_id": group.distributor_id, "dno": group.dno,
        "time_bands_charging_year": bands.charging_year + ("" if own else " (nearest held)"),
        "weekday": texts["weekday"], "weekend": texts["weekend"],
    }
    if tariff:
        rates = published_rates(group, tariff, day, tariff_cell="--tariff")
        result["unit_rates_p_per_kwh"] = None if rates is None else {
            "charging_year": rates.charging_year, "tariff": rates.tariff_name,
            "red": rates.red_p_per_kwh, "amber": rates.amber_p_per_kwh,
            "green": rates.green_p_per_kwh, "statement": rates.statement}
        if rates is None:
            result["unit_rates_not_held"] = _not_held(group, charging_year_of(day))
    if list_tariffs:
        result["tariffs_held"] = tariffs_held(group, day)
    return result
