"""Every price row checked before anything is written: a date, a settlement period that
day has (1..46/48/50), a start time, each number finite and plausible, each period once.

One checker for every way rows arrive (a CSV given to ``ingest-prices``, Elexon's
answers), so a bad row is refused by name (where, the value seen, what was expected)
before the warehouse is touched, and never stored to misprice a later refresh.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from btm_ppa.core import periods
from btm_ppa.errors import BtmError
from btm_ppa.prices import schema

#: The largest magnitude of a GB half-hourly price taken as real. The highest system
#: price since 2016 is £4,037.80/MWh (January 2021); 1e308 or "1e999" is a broken feed.
MAX_PLAUSIBLE_PRICE_GBP_PER_MWH = 10_000.0
#: The largest magnitude of a half-hourly net imbalance volume taken as real (the
#: largest since 2016 is about 2,500 MWh). [MWh]
MAX_PLAUSIBLE_VOLUME_MWH = 20_000.0
#: How many bad rows a message lists before it counts the rest.
LISTED = 5


@dataclass(frozen=True)
class _Bound:
    limit: float
    unit: str


def _bound(column: str) -> _Bound | None:
    if column.endswith("_gbp_per_mwh"):
        return _Bound(MAX_PLAUSIBLE_PRICE_GBP_PER_MWH, "£/MWh")
    if column.endswith("_mwh"):
        return _Bound(MAX_PLAUSIBLE_VOLUME_MWH, "MWh")
    return None


def _shown(value: object) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "blank"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _fixed(text: str, _index: object, _value: object) -> str:
    return text


def _number_problem(field: str, expected: str, _index: object, value: object) -> str:
    return f"{field} {_shown(value)}: {expected}"


def system_price_fields() -> dict[str, tuple[str, bool]]:
    """The numbers of a system-prices row: Elexon field -> (our column, required)."""
    return {field: (column, next(c for c in schema.SYSTEM_PRICES if c.name == column).required)
            for field, column in schema.ELEXON_FIELD_MAP.items()
            if next(c for c in schema.SYSTEM_PRICES if c.name == column).bigquery_type
            == "FLOAT64"}


def checked_rows(raw: pd.DataFrame, origin: str, row_name: Callable[[object], str],
                 error: Callable[[str], BtmError],
                 number_fields: Mapping[str, tuple[str, bool]] | None = None) -> pd.DataFrame:
    """``raw`` (Elexon field names, any types) with its dates, periods, start times and
    numbers parsed; raises ``error(message)`` listing the bad rows otherwise.

    ``origin`` says where the rows came from ("prices.csv", "Elexon's system prices for
    2023-06-01"); ``row_name(index)`` names one row ("line 17", "item 3"). ``number_fields``:
    the number fields checked, field -> (our column, whose unit bounds it; required), by
    default a system-prices row's.
    """
    problems: list[tuple[object, str]] = []

    def bad(mask: pd.Series, describe: Callable[[object, object], str],
            values: pd.Series) -> None:
        for index in mask[mask].index:
            problems.append((index, describe(index, values.loc[index])))

    out = raw.copy()
    text_date = raw["settlementDate"].astype("string").str.strip().str[:10]
    dates = pd.to_datetime(text_date, format="%Y-%m-%d", errors="coerce")
    bad(dates.isna(), lambda _i, v: f"settlementDate {_shown(v)}: expected a date as "
        "YYYY-MM-DD", raw["settlementDate"])
    day = dates.dt.date
    sp = pd.to_numeric(raw["settlementPeriod"], errors="coerce")
    day_periods = day.map(lambda d: periods.periods_in_day(d) if pd.notna(d) else 50)
    wrong_sp = sp.isna() | (sp != np.floor(sp)) | (sp < 1) | (sp > day_periods)
    bad(wrong_sp & dates.notna(), lambda i, v: f"settlementPeriod {_shown(v)}: expected a whole "
        f"number from 1 to {day_periods.loc[i]}, the periods of {day.loc[i]}",
        raw["settlementPeriod"])
    starts = pd.to_datetime(raw["startTime"], utc=True, errors="coerce", format="ISO8601")
    bad(starts.isna(), lambda _i, v: f"startTime {_shown(v)}: expected a time such as "
        "2023-06-01T00:30:00Z", raw["startTime"])
    for field, (column, required) in (number_fields or system_price_fields()).items():
        if field not in raw:
            continue
        values = raw[field]
        blank = values.isna() | (values.astype("string").str.strip() == "")
        numbers = pd.to_numeric(values.where(~blank), errors="coerce")
        bound = _bound(column)
        unit = f" {bound.unit}" if bound else ""
        if required:
            bad(blank, functools.partial(_fixed, f"{field} is blank: expected a price"), values)
        limit = bound.limit if bound else np.inf
        wrong = ~blank & (numbers.isna() | ~np.isfinite(numbers.fillna(0.0))
                          | (numbers.abs() > limit))
        expected = f"expected a finite number from {-limit:,.0f} to {limit:,.0f}{unit}"
        bad(wrong, functools.partial(_number_problem, field, expected), values)
        out[field] = numbers
    keys = pd.DataFrame({"d": day, "p": sp})
    duplicate = keys.duplicated(keep="first") & dates.notna() & ~wrong_sp
    first_of = {key: index for index, key in
                zip(keys.index[~keys.duplicated(keep="first")],
                    keys[~keys.duplicated(keep="first")].itertuples(index=False), strict=True)}
    bad(duplicate, lambda i, _v: (
        f"{day.loc[i]} SP{int(sp.loc[i])} appears again: expected each period once (first "
        f"at {row_name(first_of[tuple(keys.loc[i])])})"), raw["settlementPeriod"])
    if problems:
        position = {index: n for n, index in enumerate(raw.index)}
        problems.sort(key=lambda p: position[p[0]])
        listed = "; ".join(f"{row_name(i)}: {text}" for i, text in problems[:LISTED])
        more = f" (and {len(problems) - LISTED} more)" if len(problems) > LISTED else ""
        raise error(f"{origin}: {len(problems)} bad value(s), nothing was loaded: "
                    f"{listed}{more}. Correct the rows (or fetch them again) and rerun")
    out["settlementDate"] = day
    out["settlementPeriod"] = sp.astype("int64")
    out["startTime"] = starts
    return out
