import datetime as dt

import pandas as pd
import pytest

from btm_ppa.core import periods


@pytest.mark.parametrize(
    ("day", "count"),
    [
        (dt.date(2023, 3, 26), 46),  # clocks forward
        (dt.date(2023, 10, 29), 50),  # clocks back
        (dt.date(2023, 6, 1), 48),
        (dt.date(2024, 3, 31), 46),
        (dt.date(2018, 10, 28), 50),
    ],
)
def test_periods_in_day_follow_uk_clock_changes(day, count):
    assert periods.periods_in_day(day) == count
    frame = periods.settlement_periods(day, day)
    assert len(frame) == count
    assert frame[periods.SETTLEMENT_PERIOD].tolist() == list(range(1, count + 1))


def test_autumn_day_repeats_the_clock_hour_and_keeps_utc_steps():
    frame = periods.settlement_periods(dt.date(2023, 10, 29), dt.date(2023, 10, 29))
    starts = frame[periods.START_TIME_UTC]
    # SP1 starts at local midnight = 23:00 UTC the day before (BST); SP5 at 01:00 GMT.
    assert starts.iloc[0] == pd.Timestamp("2023-10-28T23:00Z")
    assert starts.iloc[4] == pd.Timestamp("2023-10-29T01:00Z")
    assert (starts.diff().dropna() == pd.Timedelta(minutes=30)).all()
    # Local clock: 00:00, 00:30, 01:00, 01:30 (BST), then 01:00, 01:30 again (GMT).
    assert frame[periods.LOCAL_SLOT].iloc[:6].tolist() == [0, 1, 2, 3, 2, 3]
    assert frame[periods.IS_WEEKEND].all()


def test_spring_day_skips_the_missing_clock_hour():
    frame = periods.settlement_periods(dt.date(2023, 3, 26), dt.date(2023, 3, 26))
    slots = frame[periods.LOCAL_SLOT].tolist()
    assert 2 not in slots and 3 not in slots  # 01:00-02:00 never happens
    assert slots[:3] == [0, 1, 4]


def test_window_counts_a_whole_year():
    assert periods.expected_period_count(dt.date(2023, 1, 1), dt.date(2023, 12, 31)) == 17520
    assert len(periods.settlement_periods(dt.date(2024, 1, 1), dt.date(2024, 12, 31))) == 17568


@pytest.mark.parametrize(
    ("day", "year"),
    [(dt.date(2024, 3, 31), "2023/24"), (dt.date(2024, 4, 1), "2024/25"),
     (dt.date(2026, 1, 15), "2025/26"), (dt.date(1999, 12, 1), "1999/00")],
)
def test_charging_year_runs_april_to_march(day, year):
    assert periods.charging_year_of(day) == year


def test_missing_periods_are_listed_as_ranges_across_midnight_and_clock_changes():
    d = dt.date
    keys = [(d(2023, 10, 29), 2), (d(2023, 10, 29), 3), (d(2023, 10, 29), 50),
            (d(2023, 10, 30), 1), (d(2023, 10, 30), 2), (d(2023, 10, 30), 7),
            (d(2023, 3, 26), 46), (d(2023, 3, 27), 1)]
    runs = periods.period_runs(keys)
    assert [n for *_, n in runs] == [2, 3, 1, 2]
    assert periods.format_period_ranges(keys) == (
        "2023-10-29 SP2-SP3; 2023-10-29 SP50 to 2023-10-30 SP2; 2023-10-30 SP7; "
        "2023-03-26 SP46 to 2023-03-27 SP1")
    assert periods.format_period_ranges(keys, limit=2).endswith("; and 2 more ranges")
    # SP48 is not the last period of the 50-period day: no run across midnight
    assert len(periods.period_runs([(d(2023, 10, 29), 48), (d(2023, 10, 30), 1)])) == 2
    assert periods.format_period_ranges([]) == ""
