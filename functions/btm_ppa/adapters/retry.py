"""Bounded retries with exponential backoff and full jitter, for every HTTP client of the
package (Sheets, Elexon). gspread 6.2.1's own BackOffHTTPClient retries a persistent 429
forever; this one gives up after ``max_attempts`` or ``max_elapsed_s``."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: HTTP statuses worth retrying: rate limited, and server-side failures.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 16.0
    max_elapsed_s: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay_s(self, attempt: int) -> float:
        """Full-jitter backoff before retry number ``attempt`` (1-based). [s]"""
        return self.rng.uniform(0, min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))

    def run(self, call: Callable[[], object], retryable: Callable[[BaseException], bool],
            on_retry: Callable[[int, float, BaseException], None] | None = None) -> object:
        """Call until it succeeds, a non-retryable error, or the attempts/time run out (the
        last error is raised). ``on_retry(attempt, pause_s, error)`` is told before each
        pause, so a caller can say it is retrying and why."""
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return call()
            except BaseException as exc:
                if not retryable(exc) or attempt >= self.max_attempts:
                    raise
                pause = self.delay_s(attempt)
                if time.monotonic() - started + pause > self.max_elapsed_s:
                    raise
                if on_retry is not None:
                    on_retry(attempt, pause, exc)
                self.sleep(pause)
