"""From results to cell writes: rows 40-42 of both blocks and rows 50-62.

Everything is written as numbers with number formats; text only where the cell is text
(labels, status, notes). Only this module decides what goes where, from the layout.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from btm_ppa.core.prices import BandPrices, PriceBasis
from btm_ppa.core.results import (
    ResultTable,
    pennies_adding_up,
    written_gbp,
    written_gbp_per_mwh,
    written_mwh,
)
from btm_ppa.core.valuation import CostBlock, SystemBuyLine, Valuation
from btm_ppa.core.vocab import BANDS, DuosBand, Method
from btm_ppa.prices.warehouse import MAX_FILLED_GAP_PERIODS, WindowPrices
from btm_ppa.sheet.layout_check import is_bess_tab
from btm_ppa.sheet.workbook import CellValue, CellWrite, ChartSpec, TableWrite, TabSnapshot
from sheets_layout import BessLayout, column_index, column_letters, normalise_label, split_a1

PRICE_FORMAT = "#,##0.00"
VOLUME_FORMAT = "#,##0.000"
MONEY_FORMAT = "£#,##0.00"
TIME_FORMAT = 'yyyy-mm-dd hh:mm:ss "UTC"'


@dataclass(frozen=True)
class PricesUsed:
    """What row 61 reports about the prices behind the figures."""

    window: WindowPrices
    band_prices: BandPrices
    stream1_average_gbp_per_mwh: float | None
    stream2_average_gbp_per_mwh: float | None
    band_stand_ins: dict[str, str]
    warehouse: str
    comparison: str = ""  # greedy/optimal: how the two methods compare
    notes: tuple[str, ...] = ()  # price basis, fixed charges, import limit

    def note(self) -> str:
        w = self.window
        present = w.expected_count - len(w.missing)
        parts = [
            f"window {w.window.start} to {w.window.end}"
            + (" (default: latest 12 months held)" if w.window.defaulted else ""),
            f"{present:,} of {w.expected_count:,} SPs priced",
        ]
        if w.missing:
            parts.append(f"{len(w.missing)} missing (filled linearly, gaps of up to "
                         f"{MAX_FILLED_GAP_PERIODS} SPs): {w.missing_summary()}")
        if self.comparison:
            parts.insert(0, self.comparison)
        bands = ", ".join(
            f"{band.value.title()} £{avg:,.4f} ({self.band_prices.period_count[band]:,} SPs)"
            if (avg := self.band_prices.average_gbp_per_mwh[band]) is not None
            else f"{band.value.title()} none"
            for band in BANDS
        )
        parts.append(f"band averages {bands}")
        if self.band_stand_ins:
            used = ", ".join(f"{y} bands for {x}" for x, y in sorted(self.band_stand_ins.items()))
            parts.append(f"DUoS bands: {used} (no earlier statement held)")
        parts.append(f"source: {self.warehouse} ({', '.join(w.sources)})")
        parts += self.notes
        return " · ".join(parts)


def system_buy_writes(layout: BessLayout, valuation: Valuation) -> list[CellWrite]:
    writes: list[CellWrite] = []
    for block, line in ((layout.non_bess, valuation.non_bess_system_buy),
                        (layout.bess, valuation.bess_system_buy)):
        cells = layout.system_buy_cells(block)
        writes += _system_buy_line(cells["average"].cell, cells["volume"].cell,
                                   cells["cost"].cell, line)
    return writes


def _system_buy_line(avg: str, vol: str, cost: str, line: SystemBuyLine) -> list[CellWrite]:
    average = line.average_gbp_per_mwh
    return [
        CellWrite(avg, None if average is None else written_gbp_per_mwh(average), PRICE_FORMAT),
        CellWrite(vol, written_mwh(line.volume_mwh), VOLUME_FORMAT),
        CellWrite(cost, written_gbp(line.cost_gbp), MONEY_FORMAT),
    ]


def result_writes(layout: BessLayout, table: ResultTable, prices: PricesUsed,
                  method: Method, now: dt.datetime, warnings: list[str]) -> list[CellWrite]:
    """Rows 50-62, whole: header, figures, prices used, status."""
    cols = layout.result_columns  # A label, B stream 1, C stream 2, D total, E unit/notes
    writes = [CellWrite(f"{c}{layout.result_header_row}", h)
              for c, h in zip(cols, layout.result_headers, strict=True)]
    columns = (table.stream1.row_values(), table.stream2.row_values(), table.total.row_values())
    for spec in layout.result_rows:
        r = spec.row
        if spec.key == "prices_used":
            values = (prices.stream1_average_gbp_per_mwh, prices.stream2_average_gbp_per_mwh,
                      prices.band_prices.window_average_gbp_per_mwh)
            writes.append(CellWrite(f"{cols[0]}{r}", spec.label))
            writes += [CellWrite(f"{c}{r}", None if v is None else written_gbp_per_mwh(v),
                                 spec.number_format)
                       for c, v in zip(cols[1:4], values, strict=True)]
            writes.append(CellWrite(f"{cols[4]}{r}", prices.note()))
        elif spec.key == "status":
            writes += status_writes(layout, "OK", method, now, "; ".join(warnings))
        else:
            label = spec.label
            if spec.key == "energy_cost_gbp" and prices.window.basis is not PriceBasis.SYSTEM_BUY:
                label = f"Energy cost at {prices.window.basis.value} price"  # B24's basis
            writes.append(CellWrite(f"{cols[0]}{r}", label))
            writes += [CellWrite(f"{c}{r}", col[spec.key], spec.number_format)
                       for c, col in zip(cols[1:4], columns, strict=True)]
            writes.append(CellWrite(f"{cols[4]}{r}", spec.unit))
    return writes


def status_writes(layout: BessLayout, status: str, method: Method | None, now: dt.datetime,
                  note: str = "", row: int | None = None, column_shift: int = 0
                  ) -> list[CellWrite]:
    """The status row: label, status text, method, time (UTC), notes. ``column_shift``
    moves it right when columns were inserted left of it. An unknown method leaves the
    method cell as it was."""
    spec = layout.result_row("status")
    r = row or spec.row
    a, b, c, d, e = (_shift_column(col, column_shift) for col in layout.result_columns)
    writes = [CellWrite(f"{a}{r}", spec.label), CellWrite(f"{b}{r}", status)]
    if method is not None:
        writes.append(CellWrite(f"{c}{r}", method.value))
    writes.append(CellWrite(f"{d}{r}", now.astimezone(dt.UTC).replace(microsecond=0),
                            TIME_FORMAT))
    writes.append(CellWrite(f"{e}{r}", note))
    return writes


def _shift_column(column: str, shift: int) -> str:
    return column_letters(column_index(column) + shift)


def find_status_cell(layout: BessLayout, snapshot: TabSnapshot) -> tuple[int, int] | None:
    """Row and column shift of the status line: its declared place, or where its label
    moved to (rows or columns inserted or deleted), or None when it cannot be found
    safely. Only a BESS tab (by its anchors) ever gets a status."""
    if not is_bess_tab(layout, snapshot):
        return None
    spec = layout.result_row("status")
    first = column_index(layout.result_columns[0])
    want = normalise_label(spec.label)
    shifts = sorted(((r, c) for r in range(-10, 11) for c in range(0, 4) if first + c >= 1),
                    key=lambda rc: (abs(rc[0]) + rc[1], rc[1]))
    for rows, columns in shifts:
        address = f"{column_letters(first + columns)}{spec.row + rows}"
        if normalise_label(snapshot.get(address)) == want:
            return spec.row + rows, columns
    # A tab that never had results (first refresh) still gets its status at the
    # declared row, provided that row is empty.
    row_cells = [f"{c}{spec.row}" for c in layout.result_columns]
    if all(snapshot.get(c) in (None, "") for c in row_cells):
        return spec.row, 0
    return None


def find_status_row(layout: BessLayout, snapshot: TabSnapshot) -> int | None:
    """Row of the status line (see ``find_status_cell``)."""
    found = find_status_cell(layout, snapshot)
    return found[0] if found else None


def rows_of(writes: list[CellWrite], first_row: int, last_row: int) -> list[list[object]]:
    """The written values of a row range as a grid (for printing and JSON)."""
    grid: dict[int, dict[str, object]] = {}
    for w in writes:
        if w.tab is not None:  # another tab's cells (the Deal tab)
            continue
        col, row = split_a1(w.address)
        if first_row <= row <= last_row:
            grid.setdefault(row, {})[col] = w.value
    columns = sorted({c for cells in grid.values() for c in cells})
    return [[row] + [grid[row].get(c) for c in columns] for row in sorted(grid)]


def block_writes(layout: BessLayout, non_bess: CostBlock, bess: CostBlock) -> list[CellWrite]:
    """Modelled volumes and costs of both blocks (greedy and optimal own them)."""
    writes = []
    for spec_block, block in ((layout.non_bess, non_bess), (layout.bess, bess)):
        for row in layout.block_rows:
            line = block.duos[DuosBand(row.band)] if row.band else getattr(block, row.key)
            writes.append(CellWrite(spec_block.volume_cell(row).cell, written_mwh(line.volume_mwh),
                                    VOLUME_FORMAT))
            writes.append(CellWrite(spec_block.cost_cell(row).cell, written_gbp(line.cost_gbp),
                                    MONEY_FORMAT))
    return writes


def ppa_writes(layout: BessLayout, table: ResultTable) -> list[CellWrite]:
    """Rows 46-48: volume and PPA revenue of each stream and the total."""
    p = layout.ppa
    writes = []
    for row, result in ((p["stream1_row"], table.stream1), (p["stream2_row"], table.stream2),
                        (p["total_row"], table.total)):
        writes.append(CellWrite(f"{p['volume_column']}{row}", written_mwh(result.volume_mwh),
                                VOLUME_FORMAT))
        writes.append(CellWrite(f"{p['revenue_column']}{row}", float(result.ppa_revenue_gbp),
                                MONEY_FORMAT))
    return writes


DISPATCH_HEADER = ["Settlement date", "Charge (MWh)", "Discharge (MWh)", "Import Red (MWh)",
                   "Import Amber (MWh)", "Import Green (MWh)", "Profit (£)"]


def dispatch_table(daily: pd.DataFrame, method: Method) -> TableWrite:
    """The Dispatch tab: one row per settlement day, with a chart of charge, discharge and
    profit."""
    rows: list[list[CellValue]] = [list(DISPATCH_HEADER)]
    profit = pennies_adding_up(daily["profit_gbp"].to_numpy())  # the days add up
    for (day, rec), day_profit in zip(daily.iterrows(), profit, strict=True):
        rows.append([day, *(written_mwh(v) for v in rec.to_numpy()[:-1]), float(day_profit)])
    formats = {0: "yyyy-mm-dd", **{i: VOLUME_FORMAT for i in range(1, 6)}, 6: MONEY_FORMAT}
    chart = ChartSpec(title=f"Daily charge and discharge ({method.value} schedule)",
                      x_column=0, series_columns=(1, 2), y_title="MWh")
    return TableWrite(rows=rows, number_formats=formats, chart=chart)


def simulated_before(layout: BessLayout, snapshot: TabSnapshot) -> bool:
    """Whether the last refresh (by the status row's method cell) simulated periods, so
    that rows 46-48 hold its figures instead of the template's display formulas."""
    found = find_status_cell(layout, snapshot)
    if found is None:
        return False
    row, shift = found
    column = _shift_column(layout.result_columns[2], shift)
    return str(snapshot.get(f"{column}{row}") or "").strip().casefold() in (
        Method.GREEDY.value, Method.OPTIMAL.value, Method.REALISTIC.value)


def no_schedule_table(method: Method) -> TableWrite:
    """The Dispatch tab under a method that simulates no periods: it says so, rather than
    keep another method's schedule. Written only where the tab exists."""
    return TableWrite(rows=[[f"No schedule: the {method.value} method does not simulate "
                             "settlement periods (set the method to greedy, optimal or realistic)"]],
                      only_if_exists=True)

