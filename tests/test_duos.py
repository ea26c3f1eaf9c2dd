import csv
import datetime as dt
import re

import numpy as np
import pytest

from btm_ppa.core import periods
from btm_ppa.core.duos import assign_bands, day_band_slots, parse_clock_ranges
from btm_ppa.core.vocab import BANDS, DuosBand
from btm_ppa.reference import files as reference

TABLE_ROWS = list(csv.DictReader(
    reference.data_path(reference.TIME_BANDS_FILE).open(encoding="utf-8")))


def _half_hours(text: str) -> int:
    """Independent reading of a band cell: minutes between each pair of clock times."""
    if text.strip() == "none":
        return 0
    times = re.findall(r"(\d\d):(\d\d)", text)
    total = 0
    for (h1, m1), (h2, m2) in zip(times[::2], times[1::2], strict=True):
        end = int(h2) * 60 + int(m2) or 24 * 60
        total += end - (int(h1) * 60 + int(m1))
    return total // 30


def test_parse_clock_ranges_handles_the_statements_quirks():
    assert parse_clock_ranges("07:00-16:00 & 19:00-23:00") == [(14, 32), (38, 46)]
    assert parse_clock_ranges("22:30-00:00") == [(45, 48)]  # midnight at the end
    # One extract lost its separator: "13:00-16:0021:00-24:00".
    assert parse_clock_ranges("00:00-12:00 & 13:00-16:0021:00-24:00") == [
        (0, 24), (26, 32), (42, 48)]
    assert parse_clock_ranges("none") == []


def test_bands_that_overlap_or_leave_gaps_are_refused():
    with pytest.raises(ValueError, match="overlaps"):
        day_band_slots("16:00-19:00", "07:00-17:00", "00:00-07:00 & 19:00-24:00")
    with pytest.raises(ValueError, match="23:00 in no band"):
        day_band_slots("16:00-19:00", "07:00-16:00 & 19:00-23:00", "00:00-07:00")


def test_every_row_of_the_table_covers_each_day_exactly_once():
    table = reference.read_time_bands()
    assert len(TABLE_ROWS) == 42  # the older 2024/25-2026/27 file, kept as a cross-check
    assert len(table.bands) == 14 * 5  # 14 GSP groups, 2022/23 to 2026/27
    for bands in table.bands.values():
        assert sorted(set(bands.weekday.tolist()) | set(bands.weekend.tolist())) <= [0, 1, 2]


@pytest.mark.parametrize("row", TABLE_ROWS, ids=lambda r: f"{r['gsp_group_id']}-{r['charging_year']}")
def test_band_counts_of_a_week_match_the_time_band_table(row):
    first_year = int(row["charging_year"][:4])
    monday = dt.date(first_year, 6, 3) + dt.timedelta(days=-dt.date(first_year, 6, 3).weekday())
    frame = periods.settlement_periods(monday, monday + dt.timedelta(days=6))
    codes = assign_bands(reference.read_time_bands(), row["gsp_group_id"], frame).codes
    counted = {band: int((codes == i).sum()) for i, band in enumerate(BANDS)}
    expected = {
        band: 5 * _half_hours(row[f"weekday_{band}"]) + 2 * _half_hours(row[f"weekend_{band}"])
        for band in ("red", "amber", "green")
    }
    assert counted == {DuosBand(k): v for k, v in expected.items()}
    assert sum(counted.values()) == 7 * 48


def test_clock_change_sunday_takes_weekend_bands_on_all_50_periods():
    day = dt.date(2024, 10, 27)  # clocks back, a Sunday, charging year 2024/25
    frame = periods.settlement_periods(day, day)
    codes = assign_bands(reference.read_time_bands(), "_G", frame).codes
    # North Western weekends: amber 16:00-19:00 (6 periods), green the other 44.
    assert len(codes) == 50
    assert np.bincount(codes, minlength=3).tolist() == [0, 6, 44]


def test_bank_holidays_count_as_weekdays():
    day = dt.date(2024, 12, 25)  # Christmas Day, a Wednesday
    frame = periods.settlement_periods(day, day)
    codes = assign_bands(reference.read_time_bands(), "_A", frame).codes
    # Eastern weekday: red 16-19, amber 07-16 and 19-23, green the rest.
    assert np.bincount(codes, minlength=3).tolist() == [6, 26, 16]


def test_dates_before_the_first_statement_use_the_nearest_and_say_so():
    frame = periods.settlement_periods(dt.date(2021, 6, 7), dt.date(2021, 6, 7))
    assignment = assign_bands(reference.read_time_bands(), "_C", frame)
    assert dict(assignment.stand_ins) == {"2021/22": "2022/23"}
    # London weekday: red 11:00-14:00 and 16:00-19:00.
    assert np.bincount(assignment.codes, minlength=3).tolist() == [12, 20, 16]
