"""Loading and publishing the VLP register: from a file or the Elexon API, to JSON, the
warehouse (``vlp_battery_units``) and a ``VLP Batteries`` tab."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd

from btm_ppa.adapters.elexon import ElexonClient
from btm_ppa.register.bm_units import RegisterError, build_register, parse_bm_units, sheet_rows
from btm_ppa.sheet.workbook import TableWrite, Workbook

REGISTER_TAB = "VLP Batteries"
REGISTER_TABLE = "vlp_battery_units"


def read_bm_units_file(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RegisterError(f"cannot read BM units from {path}: {exc}") from exc


def make_register(source: str, client: ElexonClient | None = None,
                  now: dt.datetime | None = None) -> dict[str, Any]:
    """``source`` is a JSON file path, or ``elexon`` to fetch /reference/bmunits/all."""
    if source == "elexon":
        payload = (client or ElexonClient()).get_bm_units()
        label = "Elexon Insights /reference/bmunits/all"
    else:
        payload = read_bm_units_file(Path(source))
        label = f"file {Path(source).name} (Elexon /reference/bmunits/all shape)"
    return build_register(parse_bm_units(payload), label, now)


def register_frame(register: dict[str, Any]) -> pd.DataFrame:
    """One row per unit; evidence lists joined with '; '."""
    rows = [{k: ("; ".join(v) if isinstance(v, list) else v) for k, v in unit.items()}
            for unit in register["units"]]
    frame = pd.DataFrame(rows)
    frame["generated_at"] = pd.Timestamp(register["metadata"]["generated_at"])
    return frame


def write_register_tab(workbook: Workbook, register: dict[str, Any]) -> None:
    """The ``VLP Batteries`` tab, replaced in one write."""
    workbook.write(REGISTER_TAB, [], {REGISTER_TAB: TableWrite(rows=sheet_rows(register))})
