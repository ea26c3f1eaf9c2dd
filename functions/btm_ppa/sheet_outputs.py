"""From results to cell writes: rows 40-42 of both blocks and rows 50-62.

Everything is written as numbers with number formats; text only where the cell is text
(labels, status, notes). Only this module decides what goes where, from the layout.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from btm_ppa.core.prices import BandPrices
from btm_ppa.core.results import ResultTable, pennies
from btm_ppa.core.valuation import SystemBuyLine, Valuation
from btm_ppa.core.vocab import BANDS, Method
from btm_ppa.warehouse import WindowPrices
from btm_ppa.workbook import CellWrite, TabSnapshot
from sheets_layout import BessLayout, normalise_label, split_a1

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

    def note(self) -> str:
        w = self.window
        present = w.expected_count - len(w.missing)
        parts = [
            f"window {w.window.start} to {w.window.end}"
            + (" (default: latest 12 months held)" if w.window.defaulted else ""),
            f"{present:,} of {w.expected_count:,} SPs priced",
        ]
        if w.missing:
            parts.append(f"{len(w.missing)} missing: {w.missing_summary()}")
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
    return [
        CellWrite(avg, line.average_gbp_per_mwh, PRICE_FORMAT),
        CellWrite(vol, line.volume_mwh, VOLUME_FORMAT),
        CellWrite(cost, float(pennies(line.cost_gbp)), MONEY_FORMAT),
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
            writes += [CellWrite(f"{c}{r}", v, spec.number_format)
                       for c, v in zip(cols[1:4], values, strict=True)]
            writes.append(CellWrite(f"{cols[4]}{r}", prices.note()))
        elif spec.key == "status":
            writes += status_writes(layout, "OK", method, now, "; ".join(warnings))
        else:
            writes.append(CellWrite(f"{cols[0]}{r}", spec.label))
            writes += [CellWrite(f"{c}{r}", col[spec.key], spec.number_format)
                       for c, col in zip(cols[1:4], columns, strict=True)]
            writes.append(CellWrite(f"{cols[4]}{r}", spec.unit))
    return writes


def status_writes(layout: BessLayout, status: str, method: Method | None, now: dt.datetime,
                  note: str = "", row: int | None = None) -> list[CellWrite]:
    """The status row: label, status text, method, time (UTC), notes."""
    spec = layout.result_row("status")
    r = row or spec.row
    a, b, c, d, e = layout.result_columns
    return [
        CellWrite(f"{a}{r}", spec.label),
        CellWrite(f"{b}{r}", status),
        CellWrite(f"{c}{r}", method.value if method else ""),
        CellWrite(f"{d}{r}", now.astimezone(dt.UTC).replace(microsecond=0), TIME_FORMAT),
        CellWrite(f"{e}{r}", note),
    ]


def find_status_row(layout: BessLayout, snapshot: TabSnapshot) -> int | None:
    """Row of the status line: its declared row, or where its label moved to (a row was
    inserted or deleted above), or None when it cannot be found safely."""
    spec = layout.result_row("status")
    col = layout.result_columns[0]
    want = normalise_label(spec.label)
    for offset in sorted(range(-10, 11), key=abs):
        if normalise_label(snapshot.get(f"{col}{spec.row + offset}")) == want:
            return spec.row + offset
    # A tab that never had results (first refresh) still gets its status at the
    # declared row, provided that row is empty.
    row_cells = [f"{c}{spec.row}" for c in layout.result_columns]
    if all(snapshot.get(c) in (None, "") for c in row_cells):
        return spec.row
    return None


def rows_of(writes: list[CellWrite], first_row: int, last_row: int) -> list[list[object]]:
    """The written values of a row range as a grid (for printing and JSON)."""
    grid: dict[int, dict[str, object]] = {}
    for w in writes:
        col, row = split_a1(w.address)
        if first_row <= row <= last_row:
            grid.setdefault(row, {})[col] = w.value
    columns = sorted({c for cells in grid.values() for c in cells})
    return [[row] + [grid[row].get(c) for c in columns] for row in sorted(grid)]
