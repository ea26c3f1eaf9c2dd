"""The optional ``HH Data`` tab: site demand per settlement period.

Row 1 is a header; its third column names the unit, ``Demand (kWh)`` or ``Demand (MWh)``.
From row 2: column A the settlement date, B the settlement period (1..46/48/50), C the
demand in that unit. The tab must cover the price window exactly: every period once,
nothing outside it. Problems name the cell as ``'HH Data'!C17``.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import numpy.typing as npt
import pandas as pd

from btm_ppa.core import periods
from btm_ppa.core.units import kwh_to_mwh
from btm_ppa.errors import InputError
from btm_ppa.sheet import cells
from btm_ppa.sheet.workbook import CellValue

#: A half-hour above this is not one behind-the-meter site (100 MW average). [MWh]
MAX_PLAUSIBLE_PERIOD_MWH = 50.0


def _cell(tab: str, column: str, row: int) -> str:
    return f"'{tab}'!{column}{row}"


def parse_hh_demand(tab: str, rows: list[list[CellValue]], frame: pd.DataFrame,
                    window_cells: str) -> npt.NDArray[np.float64]:
    """Demand of each period of ``frame`` (a window's periods), in MWh."""
    if not rows:
        raise InputError(_cell(tab, "A", 1), None, "a header row, then date, SP and demand rows",
                         "is empty")
    header = [str(h or "") for h in (list(rows[0]) + [None] * 3)[:3]]
    unit_match = re.search(r"\b(kwh|mwh)\b", header[2].casefold())
    if not unit_match:
        raise InputError(_cell(tab, "C", 1), header[2] or None,
                         "a header naming the unit: Demand (kWh) or Demand (MWh)",
                         "does not name the demand unit")
    unit = "kWh" if unit_match.group(1) == "kwh" else "MWh"
    start, end = frame[periods.SETTLEMENT_DATE].iloc[0], frame[periods.SETTLEMENT_DATE].iloc[-1]
    seen: dict[tuple[dt.date, int], int] = {}
    values: dict[tuple[dt.date, int], float] = {}
    for number, row in enumerate(rows[1:], start=2):
        row = (list(row) + [None] * 3)[:3]
        if all(cells.is_blank(v) for v in row):
            continue
        day = cells.parse_date(_cell(tab, "A", number), row[0], required=True)
        sp = cells.parse_number(_cell(tab, "B", number), row[1], "settlement period (1-50)",
                                required=True, minimum=1)
        demand = cells.parse_number(_cell(tab, "C", number), row[2], unit, required=True,
                                    minimum=0)
        assert day is not None and sp is not None and demand is not None
        if not sp.is_integer() or sp > periods.periods_in_day(day):
            raise InputError(_cell(tab, "B", number), row[1],
                             f"a whole settlement period from 1 to {periods.periods_in_day(day)} "
                             f"on {day}", "is not a settlement period of that day")
        key = (day, int(sp))
        if key in seen:
            raise InputError(_cell(tab, "A", number), f"{day} SP{int(sp)}",
                             f"each period once (it is already on row {seen[key]})",
                             "is a duplicate period")
        if not start <= day <= end:
            raise InputError(_cell(tab, "A", number), str(day),
                             f"dates inside the price window {window_cells} ({start} to {end})",
                             "is outside the price window")
        seen[key] = number
        values[key] = demand
    keys = list(zip(frame[periods.SETTLEMENT_DATE], frame[periods.SETTLEMENT_PERIOD], strict=True))
    missing = [k for k in keys if k not in values]
    if missing:
        raise InputError(
            f"'{tab}'!A:C", f"{len(missing):,} of {len(keys):,} periods missing "
            f"({periods.format_period_ranges(missing, limit=4)})",
            f"demand for every settlement period of the price window {window_cells} "
            f"({start} to {end})", "does not cover the price window")
    demand_raw = np.array([values[k] for k in keys])
    if unit == "MWh" and demand_raw.max() > MAX_PLAUSIBLE_PERIOD_MWH:
        worst = keys[int(demand_raw.argmax())]
        raise InputError(
            _cell(tab, "C", seen[worst]), float(demand_raw.max()),
            f"MWh per half hour as the header says (at most {MAX_PLAUSIBLE_PERIOD_MWH:g} MWh, "
            "a 100 MW site); values 1000x too big are kWh: fix the header to Demand (kWh)",
            "looks like kWh typed where the header says MWh")
    demand_mwh = kwh_to_mwh(demand_raw) if unit == "kWh" else demand_raw
    if not demand_mwh.any():
        raise InputError(f"'{tab}'!C:C", 0, "some demand in the window (MWh > 0)",
                         "is zero in every period")
    return demand_mwh
