"""The shipped price history as ``system_prices`` rows, for loading a test warehouse."""

from __future__ import annotations

import datetime as dt
import functools

import pandas as pd

from btm_ppa.prices import shipped


@functools.cache
def _history() -> pd.DataFrame:
    return shipped.system_prices(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def shipped_rows(start: dt.date, end: dt.date) -> pd.DataFrame:
    """Rows of start..end as the embedded warehouse holds them (a copy)."""
    frame = _history()
    day = frame["settlement_date"]
    return frame[(day >= start) & (day <= end)].reset_index(drop=True)
