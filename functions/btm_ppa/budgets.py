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


def refresh_budget_s() -> float:
    """The refresh time budget: ``$BTM_PPA_REFRESH_BUDGET_S`` seconds, 20 by default."""
    raw = os.environ.get(BUDGET_ENV, "").strip()
    if not raw:
        return DEFAULT_BUDGET_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not seconds > 0 or math.isinf(seconds):
        log.warning("%s=%r is not a number of seconds above 0; using %g s", BUDGET_ENV, raw,
                    DEFAULT_BUDGET_S)
        return DEFAULT_BUDGET_S
    return seconds


#: Environment variable: seconds a refresh may take when the workbook has a Deal tab
#: (eight price years over the term, and the sizing sweep).
DEAL_BUDGET_ENV = "BTM_PPA_DEAL_BUDGET_S"
DEFAULT_DEAL_BUDGET_S = 240.0


def deal_budget_s() -> float:
    """The budget of a refresh with a Deal tab: ``$BTM_PPA_DEAL_BUDGET_S``, 240 s by default
    (inside the cloud function's 300 s timeout)."""
    raw = os.environ.get(DEAL_BUDGET_ENV, "").strip()
    try:
        seconds = float(raw) if raw else DEFAULT_DEAL_BUDGET_S
    except ValueError:
        seconds = math.nan
    if not seconds > 0 or math.isinf(seconds):
        log.warning("%s=%r is not a number of seconds above 0; using %g s", DEAL_BUDGET_ENV, raw,
                    DEFAULT_DEAL_BUDGET_S)
        return DEFAULT_DEAL_BUDGET_S
    return seconds
