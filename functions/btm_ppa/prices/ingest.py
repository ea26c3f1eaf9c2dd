"""Price ingestion: Elexon system prices and market index data (or an Elexon-shaped CSV)
-> the ``system_prices`` table.

``read_*`` read files, ``parse_*`` turn Elexon payloads into rows (tested offline); the
HTTP client is ``adapters/elexon.py``, handed in by the entry points. Every row is checked
(``prices.rows``: a date, a period the day has, finite plausible prices, each period
once) before anything is written. Stores replace period by period, and only the periods
the new data holds, so re-ingesting a date replaces it and never duplicates it, and a
partial day (10 of 48 periods) or a day Elexon answered empty keeps the periods held.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from btm_ppa.core import periods
from btm_ppa.errors import ElexonError, InputFileError, RequestError
from btm_ppa.prices import schema
from btm_ppa.prices.rows import checked_rows
from btm_ppa.prices.warehouse import PriceWarehouse

ELEXON_SOURCE = "Elexon Insights system-prices + market-index"


class ElexonPrices(Protocol):
    """What ingestion needs of Elexon (``adapters.elexon.ElexonClient``)."""

    def get_system_prices(self, day: dt.date) -> Any: ...

    def get_market_index(self, day: dt.date) -> Any: ...


def _items(what: str, day: dt.date, payload: Any) -> list[Any]:
    items = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise ElexonError(f"{what} for {day}: expected {{\"data\": [...]}}, got "
                          f"{type(payload).__name__}")
    return items


def parse_system_prices(day: dt.date, payload: Any, ingested_at: dt.datetime,
                        market_index: dict[int, float | None] | None = None) -> pd.DataFrame:
    """Rows of one settlement date from a system-prices response ({"data": [...]}), with
    the market index price of each period where ``market_index`` has one. Every item is
    checked (``prices.rows``) before any is returned."""
    items = _items("system prices", day, payload)
    malformed = [n for n, item in enumerate(items, start=1) if not isinstance(item, dict)]
    if malformed:
        raise ElexonError(f"Elexon's system prices for {day}: item {malformed[0]} is "
                          f"{_short(items[malformed[0] - 1])}: expected an object with "
                          "settlementDate, settlementPeriod, startTime and prices")
    fields = list(schema.ELEXON_FIELD_MAP)
    raw = pd.DataFrame([{f: item.get(f) for f in fields} for item in items], columns=fields,
                       index=pd.RangeIndex(1, len(items) + 1))
    origin = f"Elexon's system prices for {day}"
    checked = checked_rows(raw, origin, lambda n: f"item {n}", ElexonError)
    other = checked[checked["settlementDate"] != day]
    if not other.empty:
        n = other.index[0]
        raise ElexonError(f"{origin}: item {n} is for {other.loc[n, 'settlementDate']}: "
                          f"expected only {day}; nothing was loaded")
    checked["marketIndexPrice"] = [(market_index or {}).get(sp)
                                   for sp in checked["settlementPeriod"]]
    return schema.from_elexon(checked, ELEXON_SOURCE, ingested_at)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_market_index(day: dt.date, payload: Any) -> dict[int, float | None]:
    """The market index price (MID) of each settlement period of ``day``: the
    volume-weighted price over the data providers that traded (volume > 0). A period in
    which no provider traded has no MID (None), as in Elexon's DETSYSPRICES. [£/MWh]"""
    totals: dict[int, list[float]] = {}
    for item in _items("market index", day, payload):
        try:
            item_day = dt.date.fromisoformat(str(item["settlementDate"])[:10])
            sp = int(item["settlementPeriod"])
            price = float(item["price"])
            volume = float(item["volume"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ElexonError(f"market index for {day}: malformed item {item!r}") from exc
        if item_day != day:
            continue  # the day after, asked for so that `to` covers the whole day
        cost_volume = totals.setdefault(sp, [0.0, 0.0])
        if volume > 0:
            cost_volume[0] += price * volume
            cost_volume[1] += volume
    return {sp: (cost / volume if volume > 0 else None)
            for sp, (cost, volume) in totals.items()}


def read_price_csv(path: Path, start: dt.date, end: dt.date,
                   ingested_at: dt.datetime) -> pd.DataFrame:
    """Rows of ``start``..``end`` from a CSV in the Elexon shape (settlementDate,
    settlementPeriod, startTime, systemSellPrice, systemBuyPrice[, marketIndexPrice]).
    Every row of the range (and every row whose date cannot be read) is checked
    (``prices.rows``) before any is returned; problems name the file's line."""
    path = Path(path)
    raw = _read_csv("--from-csv", path)
    missing = [f for f in schema.REQUIRED_ELEXON_FIELDS if f not in raw]
    if missing:
        raise InputFileError(
            f"--from-csv {path} lacks the column(s) {', '.join(sorted(missing))}: expected "
            f"a header with {', '.join(schema.REQUIRED_ELEXON_FIELDS)}")
    checked = checked_rows(_in_range(raw, start, end), path.name, lambda n: f"line {n}",
                           InputFileError)
    return schema.from_elexon(checked, f"CSV {path.name}", ingested_at)


#: Fields a day-ahead price CSV may name its price by (ours, the shipped N2EX file's).
DAY_AHEAD_PRICE_FIELDS = ("dayAheadPrice", "n2exDayAheadPriceGBP")


def day_ahead_rows(raw: pd.DataFrame, source: str, ingested_at: dt.datetime) -> pd.DataFrame:
    """``day_ahead_prices`` rows from Elexon-keyed rows (settlementDate, settlementPeriod,
    startTime, and the price as ``dayAheadPrice`` or ``n2exDayAheadPriceGBP``, £/MWh).

    Hourly prices (every row on an odd settlement period: the hour's first) are held on
    both of the hour's periods; otherwise each row is one period. Hours not in ``raw``
    stay holes."""
    price = next((f for f in DAY_AHEAD_PRICE_FIELDS if f in raw), None)
    missing = [f for f in ("settlementDate", "settlementPeriod", "startTime") if f not in raw]
    if price is None or missing:
        need = [*missing, *([] if price else [" or ".join(DAY_AHEAD_PRICE_FIELDS)])]
        raise ValueError(f"lacks the field(s) {', '.join(need)}")
    rows = pd.DataFrame({
        "settlement_date": pd.to_datetime(raw["settlementDate"]).dt.date,
        "settlement_period": raw["settlementPeriod"].astype("int64"),
        "start_time": pd.to_datetime(raw["startTime"], utc=True, format="ISO8601"),
        "day_ahead_price_gbp_per_mwh": pd.to_numeric(raw[price], errors="coerce"),
    }).dropna(subset=["day_ahead_price_gbp_per_mwh"])
    if len(rows) and (rows["settlement_period"] % 2 == 1).all():
        second = rows.assign(settlement_period=rows["settlement_period"] + 1,
                             start_time=rows["start_time"] + pd.Timedelta(minutes=30))
        rows = pd.concat([rows, second], ignore_index=True)
    return schema.conform(rows.assign(source=source, ingested_at=pd.Timestamp(ingested_at)),
                          schema.DAY_AHEAD_TABLE)


def _read_csv(option: str, path: Path) -> pd.DataFrame:
    """A CSV's rows as text, indexed by the file's line numbers (line 1 is the header)."""
    path = Path(path)
    if path.is_dir():
        raise InputFileError(f"{option} {path} is a folder: expected a CSV file")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputFileError(f"{option} {path}: no such file") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:120]
        raise InputFileError(f"{option} {path} cannot be read as CSV: {detail}") from None
    raw.index = raw.index + 2
    return raw


def _in_range(raw: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The rows of ``start``..``end``, and every row whose date cannot be read (checked)."""
    text = raw["settlementDate"].str.strip().str[:10]
    dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").dt.date
    return raw[dates.isna() | ((dates >= start) & (dates <= end))]


def read_day_ahead_csv(path: Path, start: dt.date, end: dt.date,
                       ingested_at: dt.datetime) -> pd.DataFrame:
    """``day_ahead_prices`` rows of ``start``..``end`` from a CSV (see ``day_ahead_rows``).
    Every row of the range is checked (``prices.rows``: a date, a period the day has, a
    start time, a finite price within ±10,000 £/MWh, each period once) before any is
    returned; a blank price is a hole (the period keeps what is held). Problems name the
    file's line."""
    path = Path(path)
    raw = _read_csv("--day-ahead-csv", path)
    price = next((f for f in DAY_AHEAD_PRICE_FIELDS if f in raw), None)
    missing = [f for f in ("settlementDate", "settlementPeriod", "startTime") if f not in raw]
    if price is None or missing:
        need = [*missing, *([] if price else [" or ".join(DAY_AHEAD_PRICE_FIELDS)])]
        raise InputFileError(
            f"--day-ahead-csv {path} lacks the column(s) {', '.join(need)}: expected a header "
            "with settlementDate, settlementPeriod, startTime and dayAheadPrice (£/MWh)")
    checked = checked_rows(_in_range(raw, start, end), path.name, lambda n: f"line {n}",
                           InputFileError, number_fields={price: ("day_ahead_price_gbp_per_mwh", False)})
    return day_ahead_rows(checked, f"CSV {path.name}", ingested_at)


@dataclass(frozen=True)
class IngestReport:
    start: dt.date
    end: dt.date
    rows: int
    days: int
    short_days: list[str]  # "2023-10-29: 48 of 50" for days with periods missing
    missing_mid: int = 0  # periods stored without a market index price

    def summary(self) -> str:
        text = f"ingested {self.rows:,} settlement periods for {self.days} day(s) {self.start} to {self.end}"
        if self.short_days:
            text += ("; incomplete in the new data (the periods it lacks are kept as held): "
                     + ", ".join(self.short_days))
        if self.missing_mid:
            text += f"; {self.missing_mid:,} period(s) without a market index price"
        return text


def ingest_prices(store: PriceWarehouse, start: dt.date, end: dt.date, *,
                  client: ElexonPrices | None = None, csv_path: Path | None = None,
                  now: dt.datetime | None = None) -> IngestReport:
    """Fetch (or read) start..end and replace the dates the new data holds, all at once."""
    if end < start:
        raise RequestError(f"--end {end} is before --start {start}: expected the first "
                           "settlement date, then the last")
    now = now or dt.datetime.now(dt.UTC)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    if csv_path is not None:
        frame = read_price_csv(csv_path, start, end, now)
    else:
        if client is None:
            raise ValueError("ingest_prices needs an Elexon client or a CSV path")
        frame = pd.concat([parse_system_prices(d, client.get_system_prices(d), now,
                                               parse_market_index(d, client.get_market_index(d)))
                           for d in days], ignore_index=True)
    counts = frame.groupby("settlement_date").size().to_dict() if not frame.empty else {}
    short = [f"{d}: {counts.get(d, 0)} of {periods.periods_in_day(d)}" for d in days
             if counts.get(d, 0) < periods.periods_in_day(d)]
    rows = store.replace_periods(frame)
    missing_mid = int(frame["market_index_price_gbp_per_mwh"].isna().sum())
    return IngestReport(start, end, rows, len(counts), short, missing_mid)


def ingest_day_ahead(store: PriceWarehouse, start: dt.date, end: dt.date, csv_path: Path,
                     now: dt.datetime | None = None) -> int:
    """Load start..end of a day-ahead price CSV into ``day_ahead_prices``, replacing the
    dates it holds. Rows written."""
    if end < start:
        raise RequestError(f"--end {end} is before --start {start}: expected the first "
                           "settlement date, then the last")
    rows = read_day_ahead_csv(csv_path, start, end, now or dt.datetime.now(dt.UTC))
    return store.replace_periods(rows, schema.DAY_AHEAD_TABLE)


def ingest_shipped(store: PriceWarehouse, start: dt.date, end: dt.date,
                   now: dt.datetime | None = None) -> dict[str, int]:
    """Load start..end of the price history shipped with the package (system prices, NIV
    and MID; the day-ahead series) into a warehouse, e.g. a new BigQuery dataset, replacing
    the dates it holds. Rows written by table."""
    from btm_ppa.prices import shipped

    if end < start:
        raise RequestError(f"--end {end} is before --start {start}: expected the first "
                           "settlement date, then the last")
    now = now or dt.datetime.now(dt.UTC)
    written = {}
    for table, rows in ((schema.TABLE, shipped.system_prices(now)),
                        (schema.DAY_AHEAD_TABLE, shipped.day_ahead_prices(now))):
        day = rows["settlement_date"]
        written[table] = store.replace_periods(rows[(day >= start) & (day <= end)], table)
    return written
