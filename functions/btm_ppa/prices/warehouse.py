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

#: The longest run of consecutive settlement periods without a price that a refresh fills
#: (linearly, between the priced periods either side); a longer run refuses the window.
MAX_FILLED_GAP_PERIODS = 4

#: A row's source may name its MID's origin apart: ``"<system prices>; MID: <MID>"``.
MID_SOURCE_SEPARATOR = "; MID: "

#: What a refusal suggests for loading prices the warehouse lacks.
INGEST_HINT = "load them with `btm-ppa ingest-prices --start YYYY-MM-DD --end YYYY-MM-DD`"


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
        """Create the dataset and the price tables (``prices.schema.TABLES``) if missing."""
        ...

    def replace_days(self, frame: pd.DataFrame, table: str = "system_prices") -> int:
        """Replace every settlement date present in ``frame`` (the ``prices.schema``
        columns of ``table``) with its rows, atomically; dates ``frame`` lacks are left
        alone. Rows written."""
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
    """Prices of a window aligned to its settlement periods, short gaps filled."""

    window: PriceWindow
    frame: pd.DataFrame  # periods.settlement_periods columns + both price columns
    expected_count: int
    missing: list[tuple[dt.date, int]]  # periods without a price held on the basis (filled)
    sources: tuple[str, ...]
    basis: PriceBasis = PriceBasis.SYSTEM_BUY

    @property
    def price_column(self) -> str:
        """The frame's column of the basis price, short gaps filled. [£/MWh]"""
        return self.basis.column

    @property
    def present(self) -> pd.DataFrame:
        """Periods that have a price on the basis (every period: gaps are filled)."""
        return self.frame[self.frame[self.price_column].notna()]

    def missing_summary(self, limit: int = 8) -> str:
        """The missing periods as ranges: ``"2023-10-29 SP2-SP3; 2023-11-01 SP47"``."""
        return periods.format_period_ranges(self.missing, limit)


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

    A run of at most ``MAX_FILLED_GAP_PERIODS`` periods without a price on the basis is
    filled linearly between the priced periods either side (at the window's edge, with the
    nearest one) and listed in ``missing``. Raises PriceDataError (naming the window cells,
    or ``basis_cell`` under the market index basis) when the window has no prices, or a
    longer run: the message lists those periods and the dates held as ranges.
    """
    raw = warehouse.query(
        "system_prices_window", {"window_start": window.start, "window_end": window.end})
    cells = f"{start_cell}:{end_cell}"
    expected = periods.settlement_periods(window.start, window.end)
    if raw.empty:
        raise PriceDataError(
            f"{cells} price window {window.start} to {window.end}"
            f"{' (default: the latest 12 months held)' if window.defaulted else ''} has no "
            f"system prices; the warehouse ({warehouse.description}) holds "
            f"{held_summary(warehouse, PriceBasis.SYSTEM_BUY)}: expected a window inside "
            f"that, or {INGEST_HINT}", cell=start_cell)
    raw = raw.assign(settlement_date=pd.to_datetime(raw["settlement_date"]).dt.date,
                     settlement_period=raw["settlement_period"].astype(np.int64))
    raw = raw.drop_duplicates(["settlement_date", "settlement_period"], keep="last")
    columns = [PriceBasis.SYSTEM_BUY.column, PriceBasis.MARKET_INDEX.column]
    frame = expected.merge(
        raw[["settlement_date", "settlement_period", *columns]].astype(
            {c: "float64" for c in columns}),
        on=["settlement_date", "settlement_period"], how="left")
    column = basis.column
    gaps = frame[frame[column].isna()]
    missing = list(zip(gaps["settlement_date"], gaps["settlement_period"].astype(int),
                       strict=True))
    if missing:
        long_runs = [(first, last, n) for first, last, n in periods.period_runs(missing)
                     if n > MAX_FILLED_GAP_PERIODS]
        if long_runs:
            raise PriceDataError(_gap_message(warehouse, window, cells, basis, basis_cell,
                                              long_runs, len(expected)),
                                 cell=basis_cell if basis is PriceBasis.MARKET_INDEX
                                 else start_cell)
        frame[column] = frame[column].interpolate(method="linear", limit_direction="both")
    return WindowPrices(window=window, frame=frame, expected_count=len(expected),
                        missing=missing, sources=_sources(raw, basis), basis=basis)


def _sources(raw: pd.DataFrame, basis: PriceBasis) -> tuple[str, ...]:
    """Where the window's prices on the basis came from, each once."""
    labels = raw.loc[raw[basis.column].notna(), "source"].unique()
    part = 1 if basis is PriceBasis.MARKET_INDEX else 0
    return tuple(sorted({str(label).split(MID_SOURCE_SEPARATOR)[
        part if MID_SOURCE_SEPARATOR in str(label) else 0] for label in labels}))


#: The ``day_ahead_prices`` frame's price column. [£/MWh]
DAY_AHEAD_COLUMN = "day_ahead_price_gbp_per_mwh"


def day_ahead_prices(warehouse: PriceWarehouse, window: PriceWindow) -> pd.DataFrame:
    """The day-ahead auction price of every settlement period of the window, a price
    forecast known the day before delivery (the shipped series: N2EX hourly, 2015-2020).

    One row per period of the window in time order (``periods.settlement_periods``
    columns, 46/50 on clock-change days) with ``day_ahead_price_gbp_per_mwh`` (£/MWh, an
    hourly price on both of its periods) and ``source``; NaN and None where the warehouse
    holds no day-ahead price (outside 2014-12-18..2020-12-31, and the hours the source
    lacks). Never raises for a window it does not hold: the caller decides what a hole
    means.
    """
    raw = warehouse.query("day_ahead_prices_window",
                          {"window_start": window.start, "window_end": window.end})
    expected = periods.settlement_periods(window.start, window.end)
    if raw.empty:
        return expected.assign(**{DAY_AHEAD_COLUMN: np.nan, "source": None})
    raw = raw.assign(settlement_date=pd.to_datetime(raw["settlement_date"]).dt.date,
                     settlement_period=raw["settlement_period"].astype(np.int64))
    raw = raw.drop_duplicates(["settlement_date", "settlement_period"], keep="last")
    return expected.merge(
        raw[["settlement_date", "settlement_period", DAY_AHEAD_COLUMN, "source"]].astype(
            {DAY_AHEAD_COLUMN: "float64"}),
        on=["settlement_date", "settlement_period"], how="left")


def _gap_message(warehouse: PriceWarehouse, window: PriceWindow, cells: str,
                 basis: PriceBasis, basis_cell: str,
                 long_runs: list[tuple[tuple[dt.date, int], tuple[dt.date, int], int]],
                 expected_count: int) -> str:
    what = ("market index price (MID)" if basis is PriceBasis.MARKET_INDEX
            else f"{basis.value} price")
    periods_missing = sum(n for _, _, n in long_runs)
    shown = "; ".join(periods.format_period_run(first, last) for first, last, _ in long_runs[:8])
    if len(long_runs) > 8:
        shown += f"; and {len(long_runs) - 8:,} more ranges"
    text = (f"{cells} price window {window.start} to {window.end}"
            f"{' (default: the latest 12 months held)' if window.defaulted else ''}: "
            f"{periods_missing:,} of its {expected_count:,} settlement periods have no {what} "
            f"in runs longer than {MAX_FILLED_GAP_PERIODS} periods, which are not filled "
            f"({shown}); the warehouse ({warehouse.description}) holds the {what} on "
            f"{held_summary(warehouse, basis)} (some days in part): expected a window "
            f"without such gaps, or {INGEST_HINT}")
    if basis is PriceBasis.MARKET_INDEX:
        text = (f"{basis_cell} price basis {basis.value!r}: " + text
                + f", or {PriceBasis.SYSTEM_BUY.value!r} (or blank) in {basis_cell}")
    return text


def held_ranges(warehouse: PriceWarehouse,
                basis: PriceBasis = PriceBasis.SYSTEM_BUY) -> list[tuple[dt.date, dt.date]]:
    """Runs of consecutive settlement dates with a price on the basis, oldest first."""
    held = warehouse.query("held_date_ranges", {"basis": basis.value})  # type: ignore[dict-item]
    return [(pd.Timestamp(r.first_date).date(), pd.Timestamp(r.last_date).date())
            for r in held.itertuples()]


def held_summary(warehouse: PriceWarehouse, basis: PriceBasis = PriceBasis.SYSTEM_BUY,
                 limit: int = 6) -> str:
    """``2016-06-06 to 2025-06-01`` (runs joined by ``, ``), or ``no prices at all``."""
    ranges = held_ranges(warehouse, basis)
    if not ranges:
        return "no prices at all"
    parts = [f"{a} to {b}" if a != b else f"{a}" for a, b in ranges]
    if len(parts) > limit:
        parts = [*parts[:limit - 1], f"... ({len(parts) - limit + 1} more ranges)",
                 parts[-1]]
    return ", ".join(parts)
