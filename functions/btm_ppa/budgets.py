"""How long a refresh may take: reading, pricing and solving, and with a Deal tab."""

from __future__ import annotations

import logging
import math
import os

log = logging.getLogger(__name__)

#: Environment variable: seconds a refresh may take to price and solve (from when the
#: workbook has been read) before it gives up, writing nothing.
BUDGET_ENV = "BTM_PPA_REFRESH_BUDGET_S"
DEFAULT_BUDGET_S = 20.0
READ_BUDGET_S = 20.0  # reading the workbook (BESS and HH Data tabs): the same, apart


def env_seconds(name: str, default: float, most: float = math.inf) -> float:
    """Seconds from the environment variable ``name``: ``default`` when it is unset, or not
    a number of seconds above 0 and below ``most`` (which is logged)."""
    raw = os.environ.get(name, "").strip()
    try:
        seconds = float(raw) if raw else default
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < most:
        log.warning("%s=%r is not a number of seconds above 0 and below %g; using %g s", name,
                    raw, most, default)
        return default
    return seconds


def refresh_budget_s() -> float:
    """The refresh time budget: ``$BTM_PPA_REFRESH_BUDGET_S`` seconds, 20 by default."""
    return env_seconds(BUDGET_ENV, DEFAULT_BUDGET_S)


#: Environment variable: seconds a refresh may take when the workbook has a Deal tab
#: (eight price years over the term, and the sizing sweep).
DEAL_BUDGET_ENV = "BTM_PPA_DEAL_BUDGET_S"
DEFAULT_DEAL_BUDGET_S = 240.0


def deal_budget_s() -> float:
    """The budget of a refresh with a Deal tab: ``$BTM_PPA_DEAL_BUDGET_S``, 240 s by default
    (inside the cloud function's 300 s timeout)."""
    return env_seconds(DEAL_BUDGET_ENV, DEFAULT_DEAL_BUDGET_S)
