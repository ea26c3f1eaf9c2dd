"""Loading and publishing the VLP register: from a file or the Elexon API, to the seed's
JSON and CSV files, the warehouse (``vlp_battery_units``) and a ``VLP Batteries`` tab.

The JSON and the CSVs use the seed's field names (``leadPartyName``, ``is_vlp``, ...); the
warehouse table and the tab carry the same facts under the warehouse's snake_case names
with units (``lead_party_name``, ``generation_capacity_mw``), mapped in ``WAREHOUSE_COLUMNS``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd

from btm_ppa.adapters.elexon import ElexonClient
from btm_ppa.register.bm_units import RegisterError, parse_bm_units
from btm_ppa.register.document import UNIT_FIELDS, build_register
from btm_ppa.sheet.workbook import CellValue, TableWrite, Workbook

REGISTER_TAB = "VLP Batteries"
REGISTER_TABLE = "vlp_battery_units"
#: The file name seed 000 gives the register's JSON.
JSON_NAME = "vlp_battery_units_data.json"
#: The CSV files seed 000 lists beside the JSON ({stamp}: generated date, UTC,
#: YYYYMMDD_HHMMSS), each with the columns of ``battery_units``, the seed's first.
CSV_NAMES = {"all": "battery_bmus_complete_{stamp}.csv",
             "vlp": "vlp_operated_batteries_{stamp}.csv",
             "direct": "direct_operated_batteries_{stamp}.csv"}

#: A ``battery_units`` field -> its column in the warehouse table and the tab.
WAREHOUSE_COLUMNS = {
    "nationalGridBmUnit": "national_grid_bm_unit",
    "elexonBmUnit": "elexon_bm_unit",
    "leadPartyName": "lead_party_name",
    "leadPartyId": "lead_party_id",
    "fuelType": "fuel_type",
    "generationCapacity": "generation_capacity_mw",
    "demandCapacity": "demand_capacity_mw",
    "bmUnitType": "bm_unit_type",
    "bmUnitName": "bm_unit_name",
    "gspGroupName": "gsp_group_name",
    "is_vlp": "is_vlp",
    "is_vlp_by_name": "is_vlp_by_name",
    "is_aggregator_code": "is_aggregator_code",
    "multiple_assets": "multiple_assets",
    "gspGroupId": "gsp_group_id",
    "aggregator_code_evidence": "aggregator_code_evidence",
    "storage_evidence": "storage_evidence",
    "vlp_evidence": "vlp_evidence",
    "is_vlp_by_seed_rule": "is_vlp_by_seed_rule",
    "seed_rule_disagrees": "seed_rule_disagrees",
}
#: The time the register was built, on every row of the table and the tab.
GENERATED_AT = "generated_at"


def read_bm_units_file(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:120]
        raise RegisterError(f"--from {path} cannot be read as JSON ({detail}): expected a "
                            "JSON file in Elexon's /reference/bmunits/all shape (a list of "
                            "BM units), or 'elexon' to fetch it") from exc


def make_register(source: str, client: ElexonClient | None = None,
                  now: dt.datetime | None = None) -> dict[str, Any]:
    """``source`` is a JSON file path, or ``elexon`` to fetch /reference/bmunits/all."""
    if source == "elexon":
        payload = (client or ElexonClient()).get_bm_units()
        label = "Elexon Insights API /reference/bmunits/all"
    else:
        payload = read_bm_units_file(Path(source))
        label = f"file {Path(source).name} (Elexon /reference/bmunits/all shape)"
    return build_register(parse_bm_units(payload), label, now)


def _flat(value: Any) -> Any:
    """Evidence lists as one text ('; ' between items); everything else as it is."""
    return "; ".join(value) if isinstance(value, list) else value


def _generated(register: dict[str, Any]) -> pd.Timestamp:
    return pd.Timestamp(register["metadata"]["generated_date"])


def register_frame(register: dict[str, Any]) -> pd.DataFrame:
    """The warehouse table: one row per unit, warehouse column names, evidence joined."""
    rows = [{WAREHOUSE_COLUMNS[k]: _flat(unit[k]) for k in UNIT_FIELDS}
            for unit in register["battery_units"]]
    frame = pd.DataFrame(rows, columns=list(WAREHOUSE_COLUMNS.values()))
    frame[GENERATED_AT] = _generated(register)
    return frame


def sheet_rows(register: dict[str, Any]) -> list[list[CellValue]]:
    """The ``VLP Batteries`` tab: the warehouse table's header and rows (numbers as
    numbers, the generated time as ISO text)."""
    stamp = _generated(register).isoformat()
    rows: list[list[CellValue]] = [[*WAREHOUSE_COLUMNS.values(), GENERATED_AT]]
    for unit in register["battery_units"]:
        rows.append([*(_flat(unit[k]) for k in WAREHOUSE_COLUMNS), stamp])
    return rows


def write_register_tab(workbook: Workbook, register: dict[str, Any]) -> None:
    """The ``VLP Batteries`` tab, replaced in one write."""
    workbook.write(REGISTER_TAB, [], {REGISTER_TAB: TableWrite(rows=sheet_rows(register))})


def csv_frames(register: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The seed's three CSV files by name: all units, VLP-operated, direct-operated."""
    stamp = _generated(register).tz_convert("UTC").strftime("%Y%m%d_%H%M%S")
    frame = pd.DataFrame([{k: _flat(unit[k]) for k in UNIT_FIELDS}
                          for unit in register["battery_units"]], columns=list(UNIT_FIELDS))
    vlp = frame["is_vlp"].astype(bool)
    parts = {"all": frame, "vlp": frame[vlp], "direct": frame[~vlp]}
    return {CSV_NAMES[key].format(stamp=stamp): part for key, part in parts.items()}


def write_register_files(register: dict[str, Any], json_path: Path) -> list[Path]:
    """The JSON at ``json_path`` and the seed's CSVs beside it; the paths written."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(register, indent=2, ensure_ascii=False), encoding="utf-8")
    written = [json_path]
    for name, frame in csv_frames(register).items():
        path = json_path.parent / name
        frame.to_csv(path, index=False)
        written.append(path)
    return written
