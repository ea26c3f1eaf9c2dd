"""Results never blanked: after an error, a timeout or an edit that landed while they were
written, rows 51-61 keep their figures, rewritten unchanged in a stale style ("(stale)" in
grey, a number format, so formulas that use them keep working), and E62 says whose
results they are. The next successful refresh writes its own formats back.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from btm_ppa.core.vocab import Method
from btm_ppa.errors import BtmError, InputsChangedError, LayoutError, sheet_status_for
from btm_ppa.sheet.cells import SERIAL_EPOCH
from btm_ppa.sheet.outputs import find_status_cell, status_writes
from btm_ppa.sheet.workbook import CellValue, CellWrite, TabSnapshot
from sheets_layout import BessLayout

#: The stale style: grey (palette colour 16, #808080, in Excel, LibreOffice and Sheets) and
#: "(stale)" before the figure, which stays a number for formulas that use it.
STALE_COLOUR = "[Color16]"
STALE_NOTE = "stale:"
_COLOUR_CODE = re.compile(r"^(\[(?:[A-Za-z]+|Color[0-9]{1,2})\])+", re.ASCII)


def stale_format(number_format: str) -> str:
    """``number_format`` in the stale style, section by section (its own colour dropped)."""
    return ";".join(f'{STALE_COLOUR}"(stale) "{_COLOUR_CODE.sub("", section)}'
                    for section in number_format.split(";"))


def stale_marking(layout: BessLayout, snapshot: TabSnapshot, now: dt.datetime,
                  style: bool = True) -> tuple[list[CellWrite], str]:
    """Rows 51-61 kept as they are but marked stale: their figures rewritten unchanged in
    the stale style (``style``), and the note for row 62 saying whose results they are.
    Never blanked: the analyst still sees the last results, and that they are stale.
    A tab with no figures yet gets neither."""
    figures: list[CellWrite] = []
    for spec in layout.result_rows:
        if spec.key == "status":
            continue
        for column in layout.result_columns[1:4]:
            address = f"{column}{spec.row}"
            value = snapshot.get(address)
            if isinstance(value, int | float) and not isinstance(value, bool):
                figures.append(CellWrite(address, value, stale_format(spec.number_format)))
    if not figures:
        return [], ""
    status = layout.result_row("status").row
    b, c, d, e = (f"{col}{status}" for col in layout.result_columns[1:])
    previous_note = str(snapshot.get(e) or "")
    if previous_note.startswith(STALE_NOTE):  # still the results of that earlier refresh
        note = previous_note
    else:
        when = _time_text(snapshot.get(d)) if str(snapshot.get(b) or "").startswith("OK") else ""
        method = str(snapshot.get(c) or "").strip()
        note = (f"{STALE_NOTE} rows {spec_rows(layout)} hold the results of the last "
                f"successful refresh{f' ({when}' if when else ''}"
                f"{f', method {method})' if when and method else (')' if when else '')}, "
                "not of the inputs now in the tab; they show \"(stale)\" in grey until a "
                "refresh succeeds")
    return (figures if style else []), note


def spec_rows(layout: BessLayout) -> str:
    rows = [r.row for r in layout.result_rows if r.key != "status"]
    return f"{min(rows)}-{max(rows)}"


def _time_text(value: CellValue) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 2_958_466:
        moment = dt.datetime.combine(SERIAL_EPOCH, dt.time()) + dt.timedelta(days=float(value))
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return str(value) if value not in (None, "") else ""


def stale_after_edit(layout: BessLayout, snapshot: TabSnapshot, written: Sequence[CellWrite],
                     changed: Sequence[str], method: Method | None, now: dt.datetime
                     ) -> tuple[list[CellWrite], InputsChangedError]:
    """The second write after ``changed`` cells were edited while ``written`` landed: the
    status naming them, the note, and the figures just written in the stale style."""
    cells = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5
                                      else "")
    error = InputsChangedError(
        f"{cells} changed while the refresh ran; rows {spec_rows(layout)} were computed from "
        "the inputs before that change and are marked stale: refresh again")
    after = TabSnapshot(snapshot.tab_names, {**snapshot.cells,
                                             **{w.address: w.value for w in written}})
    figures, _ = stale_marking(layout, after, now)
    note = (f"{STALE_NOTE} rows {spec_rows(layout)} hold results computed from the inputs as "
            f"they were before {cells} changed; refresh again")
    return status_writes(layout, f"STALE: {error.message}", method, now, note) + figures, error


def error_writes(layout: BessLayout, snapshot: TabSnapshot, exc: BtmError, method: Method | None,
                 now: dt.datetime) -> tuple[str, list[CellWrite]] | None:
    """The status text and the writes that report ``exc``: the status row where it is now
    (rows or columns inserted), and, where the block is in its place, rows 51-61 marked
    stale. None when the tab has no status row to write to (or is not a BESS tab)."""
    found = find_status_cell(layout, snapshot)
    if found is None:
        return None
    status = sheet_status_for(exc)
    row, column_shift = found
    in_place = (row, column_shift) == (layout.result_row("status").row, 0)
    if isinstance(exc, LayoutError) and not in_place:
        status += (f" (status shown in row {row}, where the status row now is)" if not column_shift
                   else f" (status shown in row {row}, {column_shift} column(s) right, where the "
                   "status row now is)")
    note = ""
    figures: list[CellWrite] = []
    if in_place:  # the results block is where the layout says: mark its figures stale
        figures, note = stale_marking(layout, snapshot, now,
                                      style=not isinstance(exc, LayoutError))
    return status, status_writes(layout, status, method, now, note, row=row,
                                 column_shift=column_shift) + figures
