"""GB settlement periods.

A settlement day is a UK local calendar day. Settlement period 1 starts at local midnight
and each period lasts 30 minutes of elapsed time, so a day has 48 periods, 46 on the day
clocks go forward (last Sunday of March) and 50 on the day they go back (last Sunday of
October). Periods are identified by ``(settlement_date, settlement_period)``; their
tz-aware UTC start times sit beside them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

UK_TZ = ZoneInfo("Europe/London")

#: Column names of a period frame.
SETTLEMENT_DATE = "settlement_date"
SETTLEMENT_PERIOD = "settlement_period"
START_TIME_UTC = "start_time_utc"
LOCAL_SLOT = "local_half_hour"  # 0..47: local clock time of the start, in half hours
IS_WEEKEND = "is_weekend"


def periods_in_day(settlement_date: dt.date) -> int:
    """Number of settlement periods in a settlement day: 46, 48 or 50."""
    start = dt.datetime.combine(settlement_date, dt.time(), tzinfo=UK_TZ)
    end = dt.datetime.combine(settlement_date + dt.timedelta(days=1), dt.time(), tzinfo=UK_TZ)
    elapsed = end.astimezone(dt.UTC) - start.astimezone(dt.UTC)
    return int(elapsed / dt.timedelta(minutes=30))


def settlement_periods(start: dt.date, end: dt.date) -> pd.DataFrame:
    """Every settlement period from ``start`` to ``end`` inclusive, in order.

    Columns: ``settlement_date`` (date), ``settlement_period`` (1..50), ``start_time_utc``
    (tz-aware UTC), ``local_half_hour`` (0..47, the local clock time of the period start
    in half hours; repeated on the day clocks go back) and ``is_weekend``.
    """
    if end < start:
        raise ValueError(f"window end {end} is before its start {start}")
    first = pd.Timestamp(dt.datetime.combine(start, dt.time()), tz=UK_TZ)
    after = pd.Timestamp(dt.datetime.combine(end + dt.timedelta(days=1), dt.time()), tz=UK_TZ)
    # Stepping in UTC gives 30 minutes of elapsed time per period across clock changes.
    starts_utc = pd.date_range(first.tz_convert("UTC"), after.tz_convert("UTC"),
                               freq="30min", inclusive="left")
    local = starts_utc.tz_convert(UK_TZ)
    dates = local.date
    period = pd.Series(np.ones(len(local), dtype=np.int64)).groupby(dates).cumsum().to_numpy()
    return pd.DataFrame(
        {
            SETTLEMENT_DATE: dates,
            SETTLEMENT_PERIOD: period,
            START_TIME_UTC: starts_utc,
            LOCAL_SLOT: (local.hour * 2 + local.minute // 30).to_numpy(dtype=np.int64),
            IS_WEEKEND: (local.day_of_week >= 5),
        }
    )


def expected_period_count(start: dt.date, end: dt.date) -> int:
    """Number of settlement periods in the window, counting clock-change days right."""
    first = pd.Timestamp(dt.datetime.combine(start, dt.time()), tz=UK_TZ)
    after = pd.Timestamp(dt.datetime.combine(end + dt.timedelta(days=1), dt.time()), tz=UK_TZ)
    return int((after - first) / pd.Timedelta(minutes=30))


def charging_year_of(day: dt.date) -> str:
    """The DUoS charging year (1 April to 31 March) a day falls in, as ``"2024/25"``."""
    first_year = day.year if day.month >= 4 else day.year - 1
    return f"{first_year}/{(first_year + 1) % 100:02d}"


def period_runs(keys: Iterable[tuple[dt.date, int]]) -> list[tuple[tuple[dt.date, int],
                                                                   tuple[dt.date, int], int]]:
    """Runs of consecutive settlement periods: (first, last, length) of each, in order.

    ``keys`` are (settlement date, period) pairs in time order; the last period of a day
    and the first of the next are consecutive.
    """
    runs: list[tuple[tuple[dt.date, int], tuple[dt.date, int], int]] = []
    for day, sp in keys:
        if runs:
            first, (last_day, last_sp), length = runs[-1]
            follows = ((day == last_day and sp == last_sp + 1)
                       or (day == last_day + dt.timedelta(days=1) and sp == 1
                           and last_sp == periods_in_day(last_day)))
            if follows:
                runs[-1] = (first, (day, sp), length + 1)
                continue
        runs.append(((day, sp), (day, sp), 1))
    return runs


def format_period_run(first: tuple[dt.date, int], last: tuple[dt.date, int]) -> str:
    """``2023-10-29 SP2-SP3``, ``2023-10-29 SP2``, ``2023-03-08 SP47 to 2023-03-09 SP2``."""
    if first == last:
        return f"{first[0]} SP{first[1]}"
    if first[0] == last[0]:
        return f"{first[0]} SP{first[1]}-SP{last[1]}"
    return f"{first[0]} SP{first[1]} to {last[0]} SP{last[1]}"


def format_period_ranges(keys: Iterable[tuple[dt.date, int]], limit: int = 8) -> str:
    """The periods as ranges, ``2023-10-29 SP2-SP3; 2023-11-01 SP47``, at most ``limit``
    of them then ``and N more ranges``."""
    runs = period_runs(keys)
    text = "; ".join(format_period_run(first, last) for first, last, _ in runs[:limit])
    if len(runs) > limit:
        text += f"; and {len(runs) - limit:,} more ranges"
    return text
