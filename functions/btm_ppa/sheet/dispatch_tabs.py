"""The tabs a simulated schedule is read in: ``Dispatch`` (a row per day), ``Dispatch week``
(the chosen week period by period: price, state of charge, charge and discharge, price on
a right-hand axis) and ``Monthly profit`` (each stream's profit by month, as bars).

Each BESS tab has its own (``owned_tabs``): the layout's tab (``BESS``) writes the names
above and the Valuation tab, another BESS tab ``Site B`` writes ``Dispatch (Site B)``,
``Valuation (Site B)`` and so on, so two sites in one workbook never overwrite each other's
schedule, and the tab's name says whose schedule it holds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping

import pandas as pd

from btm_ppa.core.results import pennies_adding_up, written_gbp_per_mwh, written_mwh
from btm_ppa.core.simulation import daily_summary, monthly_profit, week_detail
from btm_ppa.core.vocab import Method
from btm_ppa.sheet.outputs import (
    MONEY_FORMAT,
    PRICE_FORMAT,
    VOLUME_FORMAT,
    dispatch_table,
    no_schedule_table,
)
from btm_ppa.sheet.workbook import CellValue, ChartSpec, TableWrite
from sheets_layout import BessLayout

DISPATCH_TAB = "Dispatch"
WEEK_TAB = "Dispatch week"
MONTHLY_TAB = "Monthly profit"

WEEK_HEADER = ["Start (UK time)", "Energy price (£/MWh)", "State of charge (MWh)",
               "Charge (MWh)", "Discharge (MWh)"]
MONTHLY_HEADER = ["Month", "Stream 1 profit (£)", "Stream 2 profit (£)", "Total (£)"]


def week_table(detail: pd.DataFrame, method: Method, first_day: dt.date) -> TableWrite:
    rows: list[list[CellValue]] = [list(WEEK_HEADER)]
    for rec in detail.itertuples(index=False):
        rows.append([rec.start_uk.to_pydatetime(), written_gbp_per_mwh(rec.energy_price_gbp_per_mwh),
                     written_mwh(rec.soc_end_mwh), written_mwh(rec.charge_mwh),
                     written_mwh(rec.discharge_mwh)])
    formats = {0: "yyyy-mm-dd hh:mm", 1: PRICE_FORMAT, 2: VOLUME_FORMAT, 3: VOLUME_FORMAT,
               4: VOLUME_FORMAT}
    last = first_day + dt.timedelta(days=6)
    chart = ChartSpec(
        title=f"Week {first_day} to {last} ({method.value}): battery (MWh) and price (£/MWh, right)",
        x_column=0, series_columns=(2, 3, 4), y_title="MWh", secondary_columns=(1,),
        secondary_title="£/MWh", label_every=48, x_format="ddd d mmm")
    return TableWrite(rows=rows, number_formats=formats, chart=chart)


def monthly_table(schedule_rows: pd.DataFrame, ppa_gbp_per_mwh: float,
                  vlp_gbp_per_mwh: float, method: Method) -> TableWrite:
    months = monthly_profit(schedule_rows, ppa_gbp_per_mwh, vlp_gbp_per_mwh)
    s1 = pennies_adding_up(months["stream1_gbp"].to_numpy())
    s2 = pennies_adding_up(months["stream2_gbp"].to_numpy())
    rows: list[list[CellValue]] = [list(MONTHLY_HEADER)]
    for month, a, b in zip(months.index, s1, s2, strict=True):
        rows.append([month, float(a), float(b), round(float(a) + float(b), 2)])
    chart = ChartSpec(title=f"Monthly profit by stream ({method.value}; before the fixed and "
                            "capacity charges, which row 61 states)",
                      x_column=0, series_columns=(1, 2), y_title="£", kind="COLUMN")
    return TableWrite(rows=rows, number_formats={0: "mmm yyyy", 1: MONEY_FORMAT,
                                                 2: MONEY_FORMAT, 3: MONEY_FORMAT}, chart=chart)


def chart_week(layout: BessLayout, chosen: dt.date | None, first: dt.date,
               last: dt.date) -> tuple[dt.date, str | None]:
    """The week's first day: the chosen one if it lies in the window, else the window's
    first day (and a warning naming the cell when a chosen day was set aside)."""
    if chosen is None:
        return first, None
    if first <= chosen <= last:
        return chosen, None
    cell = layout.input("dispatch_chart_week").cell
    return first, (f"{cell} {chosen} is outside the window {first} to {last}: this BESS "
                   f"tab's {WEEK_TAB} tab shows the week from {first}")


def schedule_tabs(layout: BessLayout, schedule_rows: pd.DataFrame, method: Method,
                  chosen_week: dt.date | None, ppa_gbp_per_mwh: float,
                  vlp_gbp_per_mwh: float) -> tuple[dict[str, TableWrite], str | None]:
    """The three tabs of a simulated schedule, and a warning if the chosen week was set
    aside."""
    days = pd.to_datetime(schedule_rows["settlement_date"]).dt.date
    first_day, warning = chart_week(layout, chosen_week, days.iloc[0], days.iloc[-1])
    tabs = {
        DISPATCH_TAB: dispatch_table(daily_summary(schedule_rows), method),
        WEEK_TAB: week_table(week_detail(schedule_rows, first_day), method, first_day),
        MONTHLY_TAB: monthly_table(schedule_rows, ppa_gbp_per_mwh, vlp_gbp_per_mwh, method),
    }
    return tabs, warning


def no_schedule_tabs(method: Method) -> dict[str, TableWrite]:
    """Under a method that simulates nothing, each tab (where it exists) says so."""
    return {name: no_schedule_table(method) for name in (DISPATCH_TAB, WEEK_TAB, MONTHLY_TAB)}


#: The longest tab name Excel opens (Google Sheets allows 100).
TAB_NAME_MAX = 31


def owned_name(layout: BessLayout, bess_tab: str, name: str) -> str:
    """The name of BESS tab ``bess_tab``'s own ``name`` tab (``Dispatch``, ``Valuation``):
    ``name`` itself for the layout's tab, else ``name (bess_tab)``; a BESS tab's name too
    long for 31 characters is cut and marked with a short hash of the whole name, so two
    long names that share a beginning still get a tab each."""
    if bess_tab == layout.tab_name:
        return name
    owned = f"{name} ({bess_tab})"
    if len(owned) <= TAB_NAME_MAX:
        return owned
    mark = hashlib.sha1(bess_tab.encode("utf-8")).hexdigest()[:4]
    room = TAB_NAME_MAX - len(f"{name} (~{mark})")
    return f"{name} ({bess_tab[:room].rstrip()}~{mark})"


def owned_tabs(layout: BessLayout, bess_tab: str,
               tables: Mapping[str, TableWrite]) -> dict[str, TableWrite]:
    """``tables`` (the schedule's tabs, by their names for the layout's tab) under the
    names of ``bess_tab``'s own tabs."""
    return {owned_name(layout, bess_tab, name): table for name, table in tables.items()}
