"""The Elexon Insights API client: the one module that talks to Elexon over HTTP.

Timeouts on every call and a bounded retry on 429/5xx; parsing lives with the use cases
that need the payloads (``prices/ingest.py``, ``register/``), so it is tested offline.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from btm_ppa.adapters.retry import RETRYABLE_STATUSES, RetryPolicy
from btm_ppa.errors import ElexonError

ELEXON_BASE_URL = "https://data.elexon.co.uk/bmrs/api/v1"
ELEXON_TIMEOUT_S = 30.0
SYSTEM_PRICES_PATH = "/balancing/settlement/system-prices/{day}"
MARKET_INDEX_PATH = "/balancing/pricing/market-index"
BM_UNITS_PATH = "/reference/bmunits/all"


__all__ = ["ELEXON_BASE_URL", "ElexonClient", "ElexonError"]

log = logging.getLogger(__name__)


def _reason(exc: BaseException, timeout_s: float) -> str:
    """Why a call failed, in words: offline, slow, or what Elexon answered."""
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout):
        return f"cannot connect (offline, or the address is wrong?): {exc}"
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout_s:g} s"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} (Elexon busy or failing)"
    if isinstance(exc, ValueError):
        return f"the answer is not JSON ({exc})"
    return str(exc)


@dataclass
class ElexonClient:
    """The Elexon Insights API, with timeouts and a bounded retry on 429/5xx."""

    base_url: str = ELEXON_BASE_URL
    session: requests.Session = field(default_factory=requests.Session)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float = ELEXON_TIMEOUT_S
    #: Told each retry before its pause, in words (default: a logged warning).
    notify: Callable[[str], None] = field(default=lambda text: log.warning("%s", text),
                                          repr=False)

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

        def on_retry(attempt: int, pause_s: float, exc: BaseException) -> None:
            self.notify(f"Elexon API {url}: {_reason(exc, self.timeout_s)}; retrying in "
                        f"{pause_s:.1f} s (attempt {attempt + 1} of {self.policy.max_attempts})")

        try:
            return self.policy.run(call, retryable, on_retry)
        except (requests.RequestException, ValueError) as exc:
            when = " after retries" if retryable(exc) else ""
            raise ElexonError(f"Elexon API {url} failed{when}: "
                              f"{_reason(exc, self.timeout_s)}") from exc

    def get_system_prices(self, day: dt.date) -> Any:
        """System prices of one settlement date: ``{"data": [{settlementDate, ...}]}``."""
        return self.get_json(SYSTEM_PRICES_PATH.format(day=day.isoformat()), {"format": "json"})

    def get_market_index(self, day: dt.date) -> Any:
        """Market index data of one settlement date, every data provider:
        ``{"data": [{startTime, dataProvider, settlementDate, settlementPeriod, price,
        volume}]}``. ``from``/``to`` are settlement dates; the day after is asked for too
        (the parser keeps the day's own rows), so the answer holds the whole day whether
        ``to`` is inclusive or not."""
        return self.get_json(MARKET_INDEX_PATH, {
            "from": day.isoformat(), "to": (day + dt.timedelta(days=1)).isoformat(),
            "settlementPeriodFrom": "1", "settlementPeriodTo": "50", "format": "json"})

    def get_bm_units(self) -> Any:
        return self.get_json(BM_UNITS_PATH)
