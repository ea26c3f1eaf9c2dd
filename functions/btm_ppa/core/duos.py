"""DUoS time bands: which band (Red, Amber, Green) each settlement period falls in.

Bands come from the DNO charging statements as clock-time ranges per GSP group and
charging year, separately for weekdays and weekends. Bank holidays count as weekdays (the
statements say so), so no holiday calendar is involved. A day's 48 half-hour clock slots
each map to exactly one band; on the day clocks go back the repeated hour takes the band
of its clock time, both times.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from btm_ppa.core import periods
from btm_ppa.core.vocab import BANDS, DuosBand

SLOTS_PER_DAY = 48
_RANGE = re.compile(r"([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})")

#: Integer codes of the bands in arrays (index into ``BANDS``).
BAND_CODE = {band: code for code, band in enumerate(BANDS)}


def parse_clock_ranges(text: str) -> list[tuple[int, int]]:
    """Parse ``"07:00-16:00 & 19:00-23:00"`` into half-hour slot ranges ``[(14, 32), ...]``.

    ``"none"`` or blank is no range; an end of ``00:00`` or ``24:00`` means midnight at
    the end of the day. Separators are not relied on (one statement extract lacks one),
    so every ``HH:MM-HH:MM`` in the text counts.
    """
    if not text or text.strip().lower() == "none":
        return []
    ranges = []
    for h1, m1, h2, m2 in _RANGE.findall(text):
        start_min = int(h1) * 60 + int(m1)
        end_min = int(h2) * 60 + int(m2)
        if end_min == 0:
            end_min = 24 * 60
        if start_min % 30 or end_min % 30 or not 0 <= start_min < end_min <= 24 * 60:
            raise ValueError(f"time band range {h1}:{m1}-{h2}:{m2} is not on half hours")
        ranges.append((start_min // 30, end_min // 30))
    if not ranges:
        raise ValueError(f"no HH:MM-HH:MM range in time band text {text!r}")
    return ranges


def day_band_slots(red: str, amber: str, green: str) -> npt.NDArray[np.int8]:
    """The band code of each of the 48 half-hour clock slots of a day.

    Raises ValueError unless the three bands cover the day exactly once.
    """
    slots = np.full(SLOTS_PER_DAY, -1, dtype=np.int8)
    for band, text in zip(BANDS, (red, amber, green), strict=True):
        for lo, hi in parse_clock_ranges(text):
            if (slots[lo:hi] != -1).any():
                raise ValueError(f"{band} band {text!r} overlaps another band")
            slots[lo:hi] = BAND_CODE[band]
    if (slots == -1).any():
        gap = int(np.flatnonzero(slots == -1)[0])
        raise ValueError(f"bands leave {gap // 2:02d}:{30 * (gap % 2):02d} in no band")
    return slots


@dataclass(frozen=True)
class TimeBands:
    """Weekday and weekend band slots of one GSP group in one charging year."""

    gsp_group_id: str
    charging_year: str
    weekday: npt.NDArray[np.int8]
    weekend: npt.NDArray[np.int8]

    def band_at(self, local_half_hour: int, is_weekend: bool) -> DuosBand:
        """Band of one clock slot (0..47)."""
        table = self.weekend if is_weekend else self.weekday
        return BANDS[int(table[local_half_hour])]


@dataclass(frozen=True)
class TimeBandTable:
    """Time bands of every GSP group for every charging year available."""

    bands: Mapping[tuple[str, str], TimeBands] = field(default_factory=dict)

    def charging_years(self, gsp_group_id: str) -> list[str]:
        return sorted(year for gsp, year in self.bands if gsp == gsp_group_id)

    def for_year(self, gsp_group_id: str, charging_year: str) -> tuple[TimeBands, bool]:
        """Bands for a GSP group and charging year, falling back to the nearest year held.

        Returns the bands and whether they are the requested year's own (False when the
        nearest statement's bands stand in, e.g. for 2023 prices before the 2024/25
        statements).
        """
        years = self.charging_years(gsp_group_id)
        if not years:
            raise KeyError(f"no DUoS time bands for GSP group {gsp_group_id}")
        if charging_year in years:
            return self.bands[(gsp_group_id, charging_year)], True
        nearest = min(years, key=lambda y: abs(int(y[:4]) - int(charging_year[:4])))
        return self.bands[(gsp_group_id, nearest)], False


@dataclass(frozen=True)
class BandAssignment:
    """Band codes (index into ``BANDS``) of a sequence of settlement periods."""

    codes: npt.NDArray[np.int8]
    #: Charging years whose own statement was not held, with the year used instead.
    stand_ins: Mapping[str, str]


def assign_bands(table: TimeBandTable, gsp_group_id: str, frame: pd.DataFrame) -> BandAssignment:
    """Band of every period in a frame with ``settlement_date``, ``local_half_hour`` and
    ``is_weekend`` columns (as made by :func:`periods.settlement_periods`)."""
    dates = pd.to_datetime(frame[periods.SETTLEMENT_DATE])
    first_year = np.where(dates.dt.month >= 4, dates.dt.year, dates.dt.year - 1)
    slot = frame[periods.LOCAL_SLOT].to_numpy(dtype=np.int64)
    weekend = frame[periods.IS_WEEKEND].to_numpy(dtype=bool)
    codes = np.empty(len(frame), dtype=np.int8)
    stand_ins: dict[str, str] = {}
    for year in np.unique(first_year):
        label = f"{year}/{(year + 1) % 100:02d}"
        bands, own = table.for_year(gsp_group_id, label)
        if not own:
            stand_ins[label] = bands.charging_year
        rows = first_year == year
        codes[rows] = np.where(weekend[rows], bands.weekend[slot[rows]], bands.weekday[slot[rows]])
    return BandAssignment(codes=codes, stand_ins=stand_ins)
