"""From the Deal tab (read whole, as an optional tab) to the deal's inputs.

Labels in column A must match ``sheets_layout/deal.toml`` (a moved row is refused naming
the cell); a blank value reads as its documented default; every problem is reported by
cell, value seen and what was expected, all at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from btm_ppa.errors import InputError, InputErrors, LayoutError
from btm_ppa.sheet import cells as cellparse
from btm_ppa.sheet.workbook import CellValue
from sheets_layout import DealLayout, Kind, column_index, normalise_label


@dataclass(frozen=True)
class DealSheetInputs:
    """The Deal tab's values by key (defaults filled in), the fade table, and which keys
    were blank (so took their default)."""

    values: dict[str, float | str | None]
    fade_table: tuple[tuple[float, float], ...]
    defaulted: tuple[str, ...]

    def number(self, key: str) -> float:
        value = self.values[key]
        assert isinstance(value, int | float), key
        return float(value)

    def optional(self, key: str) -> float | None:
        value = self.values[key]
        return None if value is None else float(value)  # type: ignore[arg-type]

    def text(self, key: str) -> str:
        return str(self.values[key])


def cell_of(rows: Sequence[Sequence[CellValue]], address_column: str, row: int) -> CellValue:
    """The value at ``address_column``/``row`` of a tab read whole (None beyond its end)."""
    r, c = row - 1, column_index(address_column) - 1
    if r >= len(rows) or c >= len(rows[r]):
        return None
    value = rows[r][c]
    return None if value == "" else value


def read_deal_inputs(layout: DealLayout, rows: Sequence[Sequence[CellValue]]) -> DealSheetInputs:
    tab = layout.tab_name
    errors: list[InputError] = []
    values: dict[str, float | str | None] = {}
    defaulted = []
    for spec in layout.inputs:
        label = cell_of(rows, "A", spec.row)
        if not normalise_label(label).startswith(normalise_label(spec.label)):
            raise LayoutError(
                f"{tab}!{spec.label_cell} should hold the label {spec.label!r} but holds "
                f"{label!r}: rows of the Deal tab were moved; expected the layout of "
                "sheets_layout/deal.toml (make a fresh tab with `btm-ppa template`)",
                cell=f"{tab}!{spec.label_cell}")
        raw = cell_of(rows, "B", spec.row)
        where = f"{tab}!{spec.cell}"
        if cellparse.is_blank(raw):
            values[spec.key] = spec.default
            defaulted.append(spec.key)
            continue
        try:
            if spec.kind is Kind.TEXT:
                text = (cellparse.parse_text(raw) or "").strip().casefold()
                if text not in spec.choices:
                    raise InputError(where, raw, f"one of {', '.join(spec.choices)} ({spec.unit})",
                                     "is not one of the choices")
                values[spec.key] = text
            else:
                number = cellparse.parse_number(where, raw, spec.unit, required=True,
                                                minimum=spec.minimum, maximum=spec.maximum)
                if spec.integer and number is not None and number != int(number):
                    raise InputError(where, raw, f"a whole number of {spec.unit}",
                                     "is not a whole number")
                values[spec.key] = number
        except InputError as exc:
            errors.append(exc)
    table = _fade_table(layout, rows, errors)
    if errors:
        raise errors[0] if len(errors) == 1 else InputErrors(errors)
    return DealSheetInputs(values, table, tuple(defaulted))


def _fade_table(layout: DealLayout, rows: Sequence[Sequence[CellValue]],
                errors: list[InputError]) -> tuple[tuple[float, float], ...]:
    spec, tab = layout.fade_table, layout.tab_name
    points = []
    for row in range(int(spec["first_row"]), int(spec["last_row"]) + 1):
        efc_cell, left_cell = f"{spec['efc_column']}{row}", f"{spec['remaining_column']}{row}"
        efc_raw = cell_of(rows, spec["efc_column"], row)
        left_raw = cell_of(rows, spec["remaining_column"], row)
        if cellparse.is_blank(efc_raw) and cellparse.is_blank(left_raw):
            continue
        try:
            efc = cellparse.parse_number(f"{tab}!{efc_cell}", efc_raw, "full cycles",
                                         required=True, minimum=0, maximum=1_000_000)
            left = cellparse.parse_number(f"{tab}!{left_cell}", left_raw, "% of nameplate",
                                          required=True, minimum=0, maximum=100)
        except InputError as exc:
            errors.append(exc)
            continue
        assert efc is not None and left is not None
        points.append((efc, left / 100.0))
    points.sort()
    first = f"{tab}!{spec['efc_column']}{spec['first_row']}"
    if points and len(points) < 2:
        errors.append(InputError(first, points[0][0], "at least two rows (cycles, remaining %) "
                                 "in the fade table, or none", "holds a single point"))
    elif any(b[1] > a[1] for a, b in itertools.pairwise(points)):
        errors.append(InputError(first, [p[1] * 100 for p in points],
                                 "remaining capacity that never rises with more cycles",
                                 "rises with cycles"))
    return tuple(points)
