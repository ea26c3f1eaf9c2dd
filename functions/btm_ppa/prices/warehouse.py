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
from btm_ppa.core.prices import PriceBasis
from btm_ppa.errors import PriceDataError

#: Share of a window's periods that may be missing before the refresh refuses to price it.
MAX_MISSING_SHARE = 0.05


def read_sql(name: str) -> str:
    """Text of one of the package's SQL files, e.g. ``"system_prices_window"``."""
    return resources.files("btm_ppa.prices.sql").joinpath(f"{name}.sql").read_text(encoding="utf-8")


class PriceWarehouse(Protocol):
    """The warehouse port: what the refresh, ingestion, the register and the reference
    loader need of a warehouse. The embedded DuckDB and the BigQuery adapters implement
    all of it (``tests/test_warehouse.py`` checks both against this protocol)."""

    #: Where prices come from, for row 61 ("embedded DuckDB warehouse", "BigQuery p.d").
    description: str

    def query(self, sql_name: str, params: dict[str, dt.date] | None = None) -> pd.DataFrame:
        """Run one of the package's SQL files with named parameters."""
        ...

    def create_tables(self) -> None:
        """Create the dataset and ``system_prices`` if missing."""
        ...

    def replace_periods(self, frame: pd.DataFrame) -> int:
        """Replace every settlement period present in ``frame`` (``prices.schema`` columns)
        with its row, atomically; periods ``frame`` lacks, of its dates too, are left as
        held (a partial day never erases the rest). Rows written."""
        ...

    def replace_tables(self, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
        """Replace whole tables (reference data, the VLP register). Rows by table."""
        ...

    def count_rows(self, table: str) -> int:
        """Rows held in a table."""
        ...

    def spreadsheet_registry(self) -> list[tuple[str, str | None]]:
        """Spreadsheets the nightly job refreshes (id, tab or None); none if not kept."""
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
    frame: pd.DataFrame  # periods.settlement_periods columns + both price columns
    expected_count: int
    missing: list[tuple[dt.date, int]]  # periods without a price on the basis
    sources: tuple[str, ...]
    basis: PriceBasis = PriceBasis.SYSTEM_BUY

    @property
    def price_column(self) -> str:
        """The frame's column of the basis price. [£/MWh]"""
        return self.basis.column

    @property
    def present(self) -> pd.DataFrame:
        """Periods that have a price on the basis."""
        return self.frame[self.frame[self.price_column].notna()]

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
    warehouse: PriceWarehouse, window: PriceWindow, start_cell: str, end_cell: str,
    basis: PriceBasis = PriceBasis.SYSTEM_BUY, basis_cell: str = "price_basis",
) -> WindowPrices:
    """Fetch the window's prices and align them to the settlement periods it should hold.

    Raises PriceDataError (naming the window cells) when the window has no prices, or
    more than ``MAX_MISSING_SHARE`` of its periods have no price on the basis; under the
    market index basis a window without any MID (2018) names ``basis_cell``.
    """
    raw = warehouse.query(
        "system_prices_window", {"window_start": window.start, "window_end": window.end})
    cells = f"{start_cell}:{end_cell}"
    expected = periods.settlement_periods(window.start, window.end)
    if raw.empty:
        first, last = _held_range(warehouse, "first_date", "last_date")
        span = "no prices at all" if first is None else f"prices from {first} to {last}"
        raise PriceDataError(
            f"{cells} price window {window.start} to {window.end} has no system prices; "
            f"the warehouse ({warehouse.description}) holds {span}: expected a window "
            "inside that range", cell=start_cell)
    raw = raw.assign(settlement_date=pd.to_datetime(raw["settlement_date"]).dt.date,
                     settlement_period=raw["settlement_period"].astype(np.int64))
    raw = raw.drop_duplicates(["settlement_date", "settlement_period"], keep="last")
    columns = [PriceBasis.SYSTEM_BUY.column, PriceBasis.MARKET_INDEX.column]
    frame = expected.merge(
        raw[["settlement_date", "settlement_period", *columns]].astype(
            {c: "float64" for c in columns}),
        on=["settlement_date", "settlement_period"], how="left")
    if basis is PriceBasis.MARKET_INDEX and frame[basis.column].isna().all():
        first, last = _held_range(warehouse, "first_mid_date", "last_mid_date")
        span = ("no market index prices at all" if first is None
                else f"market index prices from {first} to {last}")
        raise PriceDataError(
            f"{basis_cell} price basis {basis.value!r}: the window {window.start} to "
            f"{window.end} ({cells}) has no market index price (MID); the warehouse holds "
            f"{span}: expected {PriceBasis.SYSTEM_BUY.value!r} (or blank), or a window with "
            "MID", cell=basis_cell)
    _refuse_impossible_prices(frame, columns, warehouse.description)
    gaps = frame[frame[basis.column].isna()]
    missing = list(zip(gaps["settlement_date"], gaps["settlement_period"].astype(int),
                       strict=True))
    result = WindowPrices(window=window, frame=frame, expected_count=len(expected),
                          missing=missing, sources=tuple(sorted(raw["source"].unique())),
                          basis=basis)
    if len(missing) > MAX_MISSING_SHARE * len(expected):
        first, last = _held_range(warehouse, "first_date", "last_date")
        raise PriceDataError(
            f"{cells} price window {window.start} to {window.end} is missing "
            f"{len(missing):,} of its {len(expected):,} settlement periods' {basis.value} "
            f"prices (more than {MAX_MISSING_SHARE:.0%}); the warehouse holds prices from "
            f"{first} to {last}: expected a window inside that range", cell=start_cell)
    return result


def _refuse_impossible_prices(frame: pd.DataFrame, columns: list[str], where: str) -> None:
    """A stored price that is not finite or beyond any real one (an old load of a broken
    feed) would crash or misprice the refresh: refuse, naming the periods and the fix."""
    from btm_ppa.prices.rows import MAX_PLAUSIBLE_PRICE_GBP_PER_MWH as limit

    for column in columns:
        values = frame[column]
        bad = values.notna() & ~(values.abs() <= limit)
        if bad.any():
            rows = frame[bad]
            first = rows.iloc[0]
            days = sorted(set(rows["settlement_date"]))
            raise PriceDataError(
                f"the warehouse ({where}) holds {int(bad.sum())} impossible {column} value(s) "
                f"in the window, first {first['settlement_date']} SP"
                f"{int(first['settlement_period'])}: {first[column]!r}; expected finite prices "
                f"from {-limit:,.0f} to {limit:,.0f} £/MWh: load those days again with "
                f"`btm-ppa ingest-prices --start {days[0]} --end {days[-1]}`", cell=None)


def _held_range(warehouse: PriceWarehouse, first_column: str,
                last_column: str) -> tuple[dt.date | None, dt.date | None]:
    held = warehouse.query("price_date_range")
    first, last = held[first_column].iloc[0], held[last_column].iloc[0]
    if pd.isna(first):
        return None, None
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()
