"""Does the tab match the layout? Anchor and label checks, and where a moved label went
(rows or columns inserted or deleted), so the refresh refuses before reading a wrong
number and says what moved."""

from __future__ import annotations

from btm_ppa.errors import LayoutError
from btm_ppa.errors import shown as shown_value
from btm_ppa.sheet import cells as cellparse
from btm_ppa.sheet.workbook import TabSnapshot
from sheets_layout import (
    BessLayout,
    CellSpec,
    column_index,
    column_letters,
    normalise_label,
    split_a1,
)


def _shifted(address: str, rows: int, columns: int) -> str | None:
    column, row = split_a1(address)
    index = column_index(column) + columns
    if index < 1 or row + rows < 1:
        return None
    return f"{column_letters(index)}{row + rows}"


def find_label_nearby(snapshot: TabSnapshot, label_cell: str, label: str) -> str | None:
    """Where the expected label is now, within 10 rows and 3 columns of its place."""
    want = normalise_label(label)
    shifts = sorted(((r, c) for r in range(-10, 11) for c in range(-3, 4) if r or c),
                    key=lambda rc: (abs(rc[0]) + abs(rc[1]), abs(rc[1])))
    for rows, columns in shifts:
        other = _shifted(label_cell, rows, columns)
        if other and normalise_label(snapshot.get(other)).startswith(want):
            return other
    return None


def _moved_text(label_cell: str, moved_to: str) -> str:
    (col, row), (new_col, new_row) = split_a1(label_cell), split_a1(moved_to)
    parts = []
    if new_row != row:
        shift = new_row - row
        where = "above" if shift > 0 else "at or above"
        parts.append(f"{abs(shift)} row(s) seem to have been "
                     f"{'inserted' if shift > 0 else 'deleted'} {where} row {row}")
    if new_col != col:
        shift = column_index(new_col) - column_index(col)
        where = "left of" if shift > 0 else "at or left of"
        parts.append(f"{abs(shift)} column(s) seem to have been "
                     f"{'inserted' if shift > 0 else 'deleted'} {where} column {col}")
    return " and ".join(parts)


def check_label(snapshot: TabSnapshot, label_cell: str, label: str, for_cell: str) -> None:
    found = snapshot.get(label_cell)
    if normalise_label(found).startswith(normalise_label(label)):
        return
    shown = "blank" if cellparse.is_blank(found) else shown_value(found)
    message = (f"{label_cell}: expected the label {label!r} beside {for_cell}, found {shown}; "
               "the tab does not match the layout, so nothing was read or written")
    moved_to = find_label_nearby(snapshot, label_cell, label)
    if moved_to:
        message += (f". That label is now at {moved_to}: {_moved_text(label_cell, moved_to)}. "
                    "Undo that, or move the rows and columns back")
    raise LayoutError(message, cell=label_cell)


def is_bess_tab(layout: BessLayout, snapshot: TabSnapshot) -> bool:
    """Whether the tab is a BESS tab by its anchors (at their place or moved a little):
    only then may the backend write its status into it."""
    return any(normalise_label(snapshot.get(a.cell)).startswith(normalise_label(a.text))
               or find_label_nearby(snapshot, a.cell, a.text) for a in layout.anchors)


def check_layout(layout: BessLayout, snapshot: TabSnapshot) -> None:
    """Refuse to run unless the anchors and every read or written cell's label match."""
    for anchor in layout.anchors:
        check_label(snapshot, anchor.cell, anchor.text, anchor.cell)
    specs: list[CellSpec] = list(layout.inputs)
    for block in (layout.non_bess, layout.bess):
        for row in layout.block_rows:
            specs += [block.volume_cell(row), block.cost_cell(row)]
        specs += list(layout.system_buy_cells(block).values())
    for spec in specs:
        if older_tab_lacks(layout, snapshot, spec):
            continue
        check_label(snapshot, spec.label_cell, spec.label, spec.cell)
    check_results_block(layout, snapshot)


#: Labels of result rows the refresh rewrites (row 54 names the price basis in B24).
_LABEL_STEM = {"energy_cost_gbp": "Energy cost",
               # layout 4 added "+ other levies": a tab made before it keeps the stem
               "levies_cost_gbp": "CCL + RO + FiT"}


def check_results_block(layout: BessLayout, snapshot: TabSnapshot) -> None:
    """The results block (rows 50-62) is written whole: every row's label must be at its
    place (the header "Results" is an anchor), so that a row the analyst inserted or
    deleted inside it is refused by cell and never overwritten."""
    column = layout.result_columns[0]
    for spec in layout.result_rows:
        check_label(snapshot, f"{column}{spec.row}", _LABEL_STEM.get(spec.key, spec.label),
                    f"results row {spec.row}")


def older_tab_lacks(layout: BessLayout, snapshot: TabSnapshot, spec: CellSpec) -> bool:
    """Whether ``spec`` is a cell a later layout added and this tab, made before it, lacks:
    its label and its value both blank. Such a cell reads as blank."""
    return (spec.since_layout > 1 and spec.since_layout <= layout.version
            and cellparse.is_blank(snapshot.get(spec.label_cell))
            and cellparse.is_blank(snapshot.get(spec.cell)))
