"""The inputs' notes and data validation as Google Sheets requests, for the one
``spreadsheets.batchUpdate`` of a write: per input cell a ``setDataValidation`` (a
drop-down for a fixed set, a number or date range) and an ``updateCells`` of its note
alone (fields ``note``: the value the analyst typed is never touched). Both are
idempotent, so every refresh can send them and a tab imported without them gets them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from btm_ppa.sheet.guidance import InputGuide
from sheets_layout import Kind, column_index, split_a1


def _grid_range(sheet_id: int, cell: str) -> dict[str, int]:
    column, row = split_a1(cell)
    index = column_index(column) - 1
    return {"sheetId": sheet_id, "startRowIndex": row - 1, "endRowIndex": row,
            "startColumnIndex": index, "endColumnIndex": index + 1}


def _values(*texts: str) -> list[dict[str, str]]:
    return [{"userEnteredValue": text} for text in texts]


def validation_rule(guide: InputGuide) -> dict[str, Any] | None:
    """The cell's ``DataValidationRule``, or None for free text (a note only)."""
    if guide.choices:
        condition = {"type": "ONE_OF_LIST", "values": _values(*guide.choices)}
    elif guide.kind is Kind.DATE and guide.earliest and guide.latest:
        condition = {"type": "DATE_BETWEEN",
                     "values": _values(guide.earliest.isoformat(), guide.latest.isoformat())}
    elif guide.minimum is not None and guide.maximum is not None:
        condition = {"type": "NUMBER_BETWEEN",
                     "values": _values(repr(guide.minimum), repr(guide.maximum))}
    else:
        return None
    return {"condition": condition, "inputMessage": guide.note, "strict": guide.strict,
            "showCustomUi": bool(guide.choices)}


def guide_requests(sheet_id: int, guides: Sequence[InputGuide]) -> list[dict[str, Any]]:
    """The requests that put each guide's validation rule and note on its cell."""
    requests: list[dict[str, Any]] = []
    for guide in guides:
        grid = _grid_range(sheet_id, guide.cell)
        rule = validation_rule(guide)
        if rule is not None:
            requests.append({"setDataValidation": {"range": grid, "rule": rule}})
        requests.append({"updateCells": {"range": grid, "rows": [{"values": [
            {"note": guide.note}]}], "fields": "note"}})
    return requests


def add_guides(batch: Any, tab: str, guides: Sequence[InputGuide]) -> None:
    """Add the guides' requests to a write's batch (``SheetsBatch``) for ``tab``, after
    its cells, where the tab is there."""
    if guides and tab in batch.grid:
        for request in guide_requests(batch.sheet_id(tab), guides):
            batch.add(request)
