"""Reference data shipped with the package, read into core objects.

``read_*`` functions read the package's CSV files; parsing into domain objects lives in
the core so it is tested without files.
"""

from __future__ import annotations

import csv
import functools
from importlib import resources
from io import StringIO

from btm_ppa.core.area import GspGroup
from btm_ppa.core.duos import TimeBands, TimeBandTable, day_band_slots

_DATA = "btm_ppa.data"
TIME_BANDS_FILE = "gb_duos_time_bands_2024-25_to_2026-27.csv"
GSP_GROUPS_FILE = "gb_gsp_groups_dno.csv"


def data_path(name: str) -> resources.abc.Traversable:
    """Path of a shipped data file."""
    return resources.files(_DATA).joinpath(name)


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(StringIO(data_path(name).read_text(encoding="utf-8"))))


@functools.cache
def read_gsp_groups() -> tuple[GspGroup, ...]:
    """The 14 GB GSP groups with distributor id and DNO."""
    return tuple(
        GspGroup(
            gsp_group_id=row["gsp_group_id"],
            name=row["gsp_group_name"],
            distributor_id=int(row["distributor_id_mpan_prefix"]),
            dno=row["dno_licensee"],
        )
        for row in _rows(GSP_GROUPS_FILE)
    )


def parse_time_bands(rows: list[dict[str, str]]) -> TimeBandTable:
    """Build the band table from rows of the time-band CSV.

    Raises ValueError naming the row when a row's bands do not cover a day exactly once.
    """
    table = {}
    for row in rows:
        key = (row["gsp_group_id"], row["charging_year"])
        try:
            weekday = day_band_slots(row["weekday_red"], row["weekday_amber"], row["weekday_green"])
            weekend = day_band_slots(row["weekend_red"], row["weekend_amber"], row["weekend_green"])
        except ValueError as exc:
            raise ValueError(f"time bands for {key[0]} {key[1]}: {exc}") from exc
        table[key] = TimeBands(key[0], key[1], weekday, weekend)
    return TimeBandTable(table)


@functools.cache
def read_time_bands() -> TimeBandTable:
    """DUoS time bands of all GSP groups, charging years 2022/23 to 2026/27 (the
    charges folder's table; the older 2024/25-2026/27 file is kept for its cross-check)."""
    from btm_ppa.reference.charge_tables import time_bands

    return TimeBandTable(time_bands())
