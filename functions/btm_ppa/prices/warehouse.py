"""The price warehouse port: one set of BigQuery Standard SQL, two engines.

The SQL in ``sql/`` is written once in BigQuery's dialect with named parameters
(``@window_start``) and bare table names. The BigQuery adapter runs it as is, with the
dataset as the job's default dataset; the embedded DuckDB adapter runs the same text
transpiled by sqlglot. Adapters return plain pandas frames; what a window means
(defaults, missing periods) is decided here, once, for both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

import numpy as np
import pandas as pd

from btm_ppa.core import periods
from btm_ppa.errors import PriceDataError

#: Share of a window's periods that may be missing before the refresh refuses to price it.
MAX_MISSING_SHARE = 0.05


def read_sql(name: str) -> str:
    """Text of one of the package's SQL files, e.g. ``"system_prices_window"``."""
    return resources.files("btm_ppa.prices.sql").joinpath(f"{name}.sql").read_text(encoding="utf-8")


class PriceWarehouse(Protocol):
    """What the refresh needs of a warehouse. Both adapters implement it."""

    #: Where prices come from, for row 61 ("embedded DuckDB warehouse", "BigQuery p.d").
    description: str

    def query(self, sql_name: str, params: dict[str, dt.date] | None = None) -> pd.DataFrame:
        """Run one of the package's SQL files with named parameters."""
        ...


@dataclass(frozen=True)
class PriceWindow:
    start: dt.date
    end: dt.date
    defaulted: bool  # True when B20/B21 were blank


@dataclass(frozen=True)
class WindowPrices:
    """Prices of a window aligned to its settlement periods."""

    window: PriceWindow
    frame: pd.DataFrame  # periods.settlement_periods columns + system_buy_price_gbp_per_mwh
    expected_count: int
    missing: list[tuple[dt.date, int]]
    sources: tuple[str, ...]

    @property
    def present(self) -> pd.DataFrame:
        """Periods that have a price."""
        return self.frame[self.frame["system_buy_price_gbp_per_mwh"].notna()]

    def missing_summary(self, limit: int = 6) -> str:
        """``"2023-10-29 SP2, SP3"``-style list of the missing periods."""
        by_day: dict[dt.date, list[int]] = {}
        for day, sp in self.missing:
            by_day.setdefault(day, []).append(sp)
        parts = [f"{day} SP{', SP'.join(map(str, sps))}" for day, sps in by_day.items()]
        if len(parts) > limit:
            return "; ".join(parts[:limit]) + f"; and {len(parts) - limit} more days"
        return "; ".join(parts)


def latest_complete_date(warehouse: PriceWarehouse) -> dt.date:
    """The last settlement date that holds every one of its periods."""
    counts = warehouse.query("recent_period_counts")
    for row in counts.sort_values("settlement_date", ascending=False).itertuples():
        day = pd.Timestamp(row.settlement_date).date()
        if int(row.period_count) >= periods.periods_in_day(day):
            return day
    if counts.empty:
        raise PriceDataError("the price warehouse holds no system prices", cell=None)
    return pd.Timestamp(counts["settlement_date"].min()).date()


def resolve_window(
    warehouse: PriceWarehouse, start: dt.date | None, end: dt.date | None,
    start_cell: str, end_cell: str,
) -> PriceWindow:
    """The window to price: as typed, or by default the latest 12 months held."""
    if start is not None and end is not None:
        if end < start:
            raise PriceDataError(
                f"{end_cell} window end {end} is before {start_cell} window start {start}: "
                "expected end on or after start", cell=end_cell)
        return PriceWindow(start, end, defaulted=False)
    if end is None:
        end = latest_complete_date(warehouse)
    if start is None:
        start = (pd.Timestamp(end) - pd.DateOffset(years=1) + pd.Timedelta(days=1)).date()
    if end < start:
        raise PriceDataError(
            f"{start_cell} window start {start} is after the last complete day of prices "
            f"{end}: expected a start on or before {end}", cell=start_cell)
    return PriceWindow(start, end, defaulted=True)


def window_prices(
    warehouse: PriceWarehouse, window: PriceWindow, start_cell: str, end_cell: str
) -> WindowPrices:
    """Fetch the window's prices and align them to the settlement periods it should hold.

    Raises PriceDataError (naming the window cells) when the window has no prices, or
    more than ``MAX_MISSING_SHARE`` of its periods are missing.
    """
    raw = warehouse.query(
        "system_prices_window", {"window_start": window.start, "window_end": window.end})
    cells = f"{start_cell}:{end_cell}"
    expected = periods.settlement_periods(window.start, window.end)
    if raw.empty:
        held = warehouse.query("price_date_range")
        first, last = held["first_date"].iloc[0], held["last_date"].iloc[0]
        span = ("no prices at all" if pd.isna(first)
                else f"prices from {pd.Timestamp(first).date()} to {pd.Timestamp(last).date()}")
        raise PriceDataError(
            f"{cells} price window {window.start} to {window.end} has no system prices; "
            f"the warehouse ({warehouse.description}) holds {span}: expected a window "
            "inside that range", cell=start_cell)
    raw = raw.assign(settlement_date=pd.to_datetime(raw["settlement_date"]).dt.date,
                     settlement_period=raw["settlement_period"].astype(np.int64))
    raw = raw.drop_duplicates(["settlement_date", "settlement_period"], keep="last")
    frame = expected.merge(
        raw[["settlement_date", "settlement_period", "system_buy_price_gbp_per_mwh"]],
        on=["settlement_date", "settlement_period"], how="left")
    gaps = frame[frame["system_buy_price_gbp_per_mwh"].isna()]
    missing = list(zip(gaps["settlement_date"], gaps["settlement_period"].astype(int),
                       strict=True))
    result = WindowPrices(window=window, frame=frame, expected_count=len(expected),
                          missing=missing, sources=tuple(sorted(raw["source"].unique())))
    if len(missing) > MAX_MISSING_SHARE * len(expected):
        held = warehouse.query("price_date_range")
        first = pd.Timestamp(held["first_date"].iloc[0]).date()
        last = pd.Timestamp(held["last_date"].iloc[0]).date()
        raise PriceDataError(
            f"{cells} price window {window.start} to {window.end} is missing "
            f"{len(missing):,} of its {len(expected):,} settlement periods (more than "
            f"{MAX_MISSING_SHARE:.0%}); the warehouse holds prices from {first} to {last}: "
            "expected a window inside that range", cell=start_cell)
    return result
