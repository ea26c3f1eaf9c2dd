"""System price ingestion: Elexon Insights API (or a CSV) -> the ``system_prices`` table.

``get_*`` fetch over HTTP (one retrying client), ``read_*`` read files, ``parse_*`` turn
payloads into rows and are tested offline. Stores replace whole settlement dates, so
re-ingesting a date replaces it and never duplicates it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import requests

from btm_ppa.adapters.retry import RETRYABLE_STATUSES, RetryPolicy
from btm_ppa.core import periods
from btm_ppa.errors import ElexonError, PriceDataError

ELEXON_BASE_URL = "https://data.elexon.co.uk/bmrs/api/v1"
ELEXON_SOURCE = "Elexon Insights system-prices"
ELEXON_TIMEOUT_S = 30.0


class PriceStore(Protocol):
    description: str

    def replace_days(self, frame: pd.DataFrame) -> int:
        """Replace every settlement date present in ``frame`` with its rows, atomically."""
        ...


@dataclass
class ElexonClient:
    """The Elexon Insights API, with timeouts and a bounded retry on 429/5xx."""

    base_url: str = ELEXON_BASE_URL
    session: requests.Session = field(default_factory=requests.Session)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float = ELEXON_TIMEOUT_S

    def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        url = f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"

        def call() -> Any:
            response = self.session.get(url, params=params, timeout=self.timeout_s)
            if response.status_code in RETRYABLE_STATUSES:
                response.raise_for_status()
            if not response.ok:
                raise ElexonError(f"Elexon API {url} answered HTTP {response.status_code}: "
                                  f"{response.text[:200]}")
            return response.json()

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, requests.HTTPError):
                return True
            return isinstance(exc, requests.Timeout | requests.ConnectionError)

        try:
            return self.policy.run(call, retryable)
        except (requests.RequestException, ValueError) as exc:
            raise ElexonError(f"Elexon API {url} failed after retries: {exc}") from exc

    def get_system_prices(self, day: dt.date) -> Any:
        return self.get_json(f"/balancing/settlement/system-prices/{day.isoformat()}",
                             {"format": "json"})

    def get_bm_units(self) -> Any:
        return self.get_json("/reference/bmunits/all")


def parse_system_prices(day: dt.date, payload: Any, ingested_at: dt.datetime) -> pd.DataFrame:
    """Rows of one settlement date from a system-prices response ({"data": [...]})."""
    items = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise ElexonError(f"system prices for {day}: expected {{\"data\": [...]}}, got "
                          f"{type(payload).__name__}")
    expected = periods.periods_in_day(day)
    rows = []
    seen = set()
    for item in items:
        try:
            sp = int(item["settlementPeriod"])
            item_day = dt.date.fromisoformat(item["settlementDate"])
            buy = float(item["systemBuyPrice"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ElexonError(f"system prices for {day}: malformed item {item!r}") from exc
        if item_day != day or not 1 <= sp <= expected:
            raise ElexonError(f"system prices for {day}: settlement period {item_day} SP{sp} "
                              f"is not one of the day's {expected}")
        if sp in seen:
            raise ElexonError(f"system prices for {day}: SP{sp} appears twice")
        seen.add(sp)
        rows.append({
            "settlement_date": day,
            "settlement_period": sp,
            "start_time": pd.Timestamp(item["startTime"]).tz_convert("UTC"),
            "system_sell_price_gbp_per_mwh": _float(item.get("systemSellPrice")),
            "system_buy_price_gbp_per_mwh": buy,
            "market_index_price_gbp_per_mwh": None,
            "net_imbalance_volume_mwh": _float(item.get("netImbalanceVolume")),
            "source": ELEXON_SOURCE,
            "ingested_at": ingested_at,
        })
    return _frame(rows)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[
        "settlement_date", "settlement_period", "start_time", "system_sell_price_gbp_per_mwh",
        "system_buy_price_gbp_per_mwh", "market_index_price_gbp_per_mwh",
        "net_imbalance_volume_mwh", "source", "ingested_at"])
    frame["settlement_period"] = frame["settlement_period"].astype("int64")
    for column in ("system_sell_price_gbp_per_mwh", "market_index_price_gbp_per_mwh",
                   "net_imbalance_volume_mwh"):
        frame[column] = frame[column].astype("float64")
    return frame.sort_values(["settlement_date", "settlement_period"]).reset_index(drop=True)


def read_price_csv(path: Path, start: dt.date, end: dt.date,
                   ingested_at: dt.datetime) -> pd.DataFrame:
    """Rows of ``start``..``end`` from a CSV in the Elexon shape (settlementDate,
    settlementPeriod, startTime, systemSellPrice, systemBuyPrice[, marketIndexPrice])."""
    try:
        raw = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise PriceDataError(f"cannot read {path}: {exc}") from exc
    missing = {"settlementDate", "settlementPeriod", "startTime", "systemBuyPrice"} - set(raw)
    if missing:
        raise PriceDataError(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
    dates = pd.to_datetime(raw["settlementDate"]).dt.date
    raw = raw[(dates >= start) & (dates <= end)]
    rows = [{
        "settlement_date": dt.date.fromisoformat(str(r.settlementDate)[:10]),
        "settlement_period": int(r.settlementPeriod),
        "start_time": pd.Timestamp(r.startTime).tz_convert("UTC"),
        "system_sell_price_gbp_per_mwh": _float(getattr(r, "systemSellPrice", None)),
        "system_buy_price_gbp_per_mwh": float(r.systemBuyPrice),
        "market_index_price_gbp_per_mwh": (None if pd.isna(getattr(r, "marketIndexPrice", None))
                                           else float(r.marketIndexPrice)),
        "net_imbalance_volume_mwh": None,
        "source": f"CSV {Path(path).name}",
        "ingested_at": ingested_at,
    } for r in raw.itertuples()]
    return _frame(rows)


@dataclass(frozen=True)
class IngestReport:
    start: dt.date
    end: dt.date
    rows: int
    days: int
    short_days: list[str]  # "2023-10-29: 48 of 50" for days with periods missing

    def summary(self) -> str:
        text = f"ingested {self.rows:,} settlement periods for {self.days} day(s) {self.start} to {self.end}"
        if self.short_days:
            text += f"; incomplete: {', '.join(self.short_days)}"
        return text


def ingest_prices(store: PriceStore, start: dt.date, end: dt.date, *,
                  client: ElexonClient | None = None, csv_path: Path | None = None,
                  now: dt.datetime | None = None) -> IngestReport:
    """Fetch (or read) start..end and replace those dates in the store, all at once."""
    if end < start:
        raise PriceDataError(f"--end {end} is before --start {start}")
    now = now or dt.datetime.now(dt.UTC)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    if csv_path is not None:
        frame = read_price_csv(csv_path, start, end, now)
    else:
        client = client or ElexonClient()
        frame = pd.concat([parse_system_prices(d, client.get_system_prices(d), now) for d in days],
                          ignore_index=True)
    counts = frame.groupby("settlement_date").size().to_dict() if not frame.empty else {}
    short = [f"{d}: {counts.get(d, 0)} of {periods.periods_in_day(d)}" for d in days
             if counts.get(d, 0) < periods.periods_in_day(d)]
    rows = store.replace_days(frame)
    return IngestReport(start, end, rows, len(counts), short)
