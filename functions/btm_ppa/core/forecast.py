"""Price and demand forecasts for the daily plans of ``realistic`` (``dispatch.daily``).

The decision time: day D is planned at 11:00 (UK) on D-1, after the day-ahead auction
(N2EX's hourly auction clears before 10:00 UK) and before D starts. Imbalance (system) and
market index prices are published period by period after the event, so the latest whole
day known then is D-2; every forecast below uses only prices of days up to D-2, and the
day-ahead prices of D. The plan's second day, D+1, is forecast at the same time, from the
same information. Forecasts are by local clock half hour (settlement periods 1-50 map to
their local start time, so clock-change days line up with their neighbours).

- ``profile 28d`` (the default): the mean by half hour of the last 28 known days (D-29 ..
  D-2) of the same kind (weekday or weekend/bank-holiday-free weekend) as the day forecast;
- ``profile 7d``: the same over the last 7 known days (D-8 .. D-2), all kinds;
- ``persistence day``: the latest whole day known (D-2), half hour by half hour;
- ``persistence week``: the same day a week before (D-7; D-6 for D+1);
- ``day-ahead``: the N2EX day-ahead price of D; for D+1 (not yet auctioned) that of D.

Where a forecast has no value (the first days of the held history, a missing day, the
half hours clocks skip), the 28-day profile stands in, then the day's own mean, then 0
(a plan on the DUoS bands and levies alone); the refresh says how many days that was.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

SLOTS = 48
#: Days before the window the forecasts look back to (28-day profile from D-29).
LOOKBACK_DAYS = 29


class PriceForecast(StrEnum):
    """What the daily plans of ``realistic`` take tomorrow's energy prices to be (a cell)."""

    PROFILE_28 = "profile 28d"
    PROFILE_7 = "profile 7d"
    PERSISTENCE_DAY = "persistence day"
    PERSISTENCE_WEEK = "persistence week"
    DAY_AHEAD = "day-ahead"

    @classmethod
    def parse(cls, text: str) -> PriceForecast | None:
        """A cell's text, case and spaces/dashes/underscores folded; None if unknown."""
        key = "".join(ch for ch in text.casefold() if ch.isalnum())
        for member in cls:
            if "".join(ch for ch in member.value if ch.isalnum()) == key:
                return member
        return None


DEFAULT_FORECAST = PriceForecast.PROFILE_28


@dataclass(frozen=True)
class DayGrid:
    """Values by settlement day (rows) and local half hour (columns), NaN where not held,
    from the first day of the history to the window's last day."""

    values: FloatArray  # (days, 48)
    weekend: BoolArray  # (days,)


def day_grid(day: IntArray, slot: IntArray, values: FloatArray, weekend: BoolArray,
             days: int) -> DayGrid:
    """Per-period values (``day``: 0-based day numbers, ``slot``: local half hour 0..47)
    as a day x half-hour grid; the repeated hour of the day clocks go back is averaged."""
    total = np.zeros(days * SLOTS)
    count = np.zeros(days * SLOTS)
    key = day * SLOTS + slot
    held = ~np.isnan(values)
    np.add.at(total, key[held], values[held])
    np.add.at(count, key[held], 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        grid = np.where(count > 0, total / count, np.nan).reshape(days, SLOTS)
    flags = np.zeros(days, dtype=bool)
    flags[day] = weekend
    return DayGrid(grid, flags)


def _profile(grid: DayGrid, last_known: IntArray, target_weekend: BoolArray, span: int,
             by_kind: bool) -> FloatArray:
    """Mean by half hour of days ``last_known - span + 1 .. last_known`` (of the target's
    kind when ``by_kind``; all kinds where that kind has none). NaN rows where nothing
    is known."""
    vals = np.nan_to_num(grid.values)
    held = (~np.isnan(grid.values)).astype(np.float64)
    zero = np.zeros((1, SLOTS))

    def window_mean(mask: BoolArray) -> FloatArray:
        s = np.concatenate([zero, np.cumsum(vals * mask[:, None], axis=0)])
        c = np.concatenate([zero, np.cumsum(held * mask[:, None], axis=0)])
        hi = np.clip(last_known + 1, 0, len(vals))
        lo = np.clip(last_known + 1 - span, 0, len(vals))
        total, count = s[hi] - s[lo], c[hi] - c[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / count, np.nan)

    every = window_mean(np.ones(len(vals), dtype=bool))
    if not by_kind:
        return every
    weekend, weekday = window_mean(grid.weekend), window_mean(~grid.weekend)
    kind = np.where(target_weekend[:, None], weekend, weekday)
    return np.where(np.isnan(kind), every, kind)


def _shifted(grid: FloatArray, rows: IntArray) -> FloatArray:
    """Rows of ``grid`` (NaN for rows before the first)."""
    out = np.full((len(rows), SLOTS), np.nan)
    ok = (rows >= 0) & (rows < len(grid))
    out[ok] = grid[rows[ok]]
    return out


def forecast_grids(kind: PriceForecast, prices: DayGrid, first_day: int,
                   day_ahead: DayGrid | None = None) -> tuple[FloatArray, FloatArray, int]:
    """The forecasts of the window's days (``first_day`` .. the grid's last): for each
    day g, ``same[g]`` made at g's own decision time (11:00 on g-1) and ``after[g]`` made
    at the decision time of g-1 (for its plan's second day). Also the number of window
    days some half hour of whose forecast had to be stood in for. (window days, 48)"""
    g = np.arange(first_day, len(prices.values))
    weekend = prices.weekend[g]
    fallback = [_profile(prices, g - 2, weekend, 28, True),
                _profile(prices, g - 3, weekend, 28, True)]
    if kind is PriceForecast.PROFILE_28:
        grids = fallback
    elif kind is PriceForecast.PROFILE_7:
        grids = [_profile(prices, g - 2, weekend, 7, False),
                 _profile(prices, g - 3, weekend, 7, False)]
    elif kind is PriceForecast.PERSISTENCE_DAY:
        grids = [_shifted(prices.values, g - 2), _shifted(prices.values, g - 3)]
    elif kind is PriceForecast.PERSISTENCE_WEEK:
        grids = [_shifted(prices.values, g - 7), _shifted(prices.values, g - 6)]
    else:
        if day_ahead is None:
            raise ValueError("the day-ahead forecast needs day-ahead prices")
        grids = [_shifted(day_ahead.values, g), _shifted(day_ahead.values, g - 1)]
    stood_in = np.zeros(len(g), dtype=bool)
    out = []
    for grid, backup in zip(grids, fallback, strict=True):
        missing = np.isnan(grid)
        stood_in |= missing.any(axis=1)
        grid = np.where(missing, backup, grid)
        held = ~np.isnan(grid)
        count = held.sum(axis=1)
        row_mean = np.where(held, grid, 0.0).sum(axis=1) / np.maximum(count, 1)
        grid = np.where(held, grid, np.where(count > 0, row_mean, np.nan)[:, None])
        out.append(np.nan_to_num(grid, nan=0.0))
    return out[0], out[1], int(stood_in.sum())


def per_period(grid: FloatArray, day: IntArray, slot: IntArray) -> FloatArray:
    """A (window days, 48) grid back on the window's periods (``day`` 0-based in the
    window)."""
    return grid[day, slot]


def demand_last_week(demand_mwh: FloatArray, day: IntArray, slot: IntArray,
                     weekend: BoolArray) -> FloatArray:
    """The demand of the same half hour a week before (known at the decision time); in
    the window's first week, which has no week before, the day's own demand stands in."""
    days = int(day[-1]) + 1 if len(day) else 0
    grid = day_grid(day, slot, demand_mwh, weekend, days).values
    before = _shifted(grid, np.arange(days) - 7)[day, slot]
    return np.where(np.isnan(before), demand_mwh, before)
