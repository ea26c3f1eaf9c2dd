"""A register of GB battery (storage) BM units with VLP status, from Elexon BM unit
reference data (``/reference/bmunits/all``), each classification with its evidence.

- Storage: fuel type is ``OTHER`` or empty for batteries, never "BATTERY", so the
  evidence is the name (battery, BESS, storage), import and export capacities of similar
  size, and a short list of known storage sites.
- VLP: a secondary BM unit (type ``V``, id ``V__...``) is registered by a Virtual Lead
  Party, so a lead party that registers one is a VLP and its storage units are
  VLP-operated. Name keywords are recorded as weak evidence only. The seed's rule ("a
  lead party with several BM units is a VLP") is kept as a comparison column, and where it
  disagrees the register lists it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from btm_ppa.errors import RegisterError

REQUIRED_FIELDS = ("nationalGridBmUnit", "elexonBmUnit", "leadPartyName", "leadPartyId",
                   "bmUnitType", "fuelType", "bmUnitName", "generationCapacity",
                   "demandCapacity", "gspGroupId", "gspGroupName")
GSP_GROUP_IDS = frozenset(f"_{c}" for c in "ABCDEFGHJKLMNP")
_STORAGE_NAME = re.compile(r"batter|\bbess\b|bess\b|storage|energy store", re.IGNORECASE)
_VLP_NAME = re.compile(r"flexitricity|kiwi power|limejump|habitat|centrica business|"
                       r"aggregat|flexib", re.IGNORECASE)
#: Storage sites known by name whose BM unit names do not say so.
KNOWN_STORAGE_SITES = ("glassenbury", "pen y cymoedd", "contego", "roosecote")
#: Import and export capacities within this ratio of each other look like a battery.
SYMMETRY_RATIO = 0.8


@dataclass(frozen=True)
class BmUnit:
    national_grid_bm_unit: str | None
    elexon_bm_unit: str
    lead_party_name: str
    lead_party_id: str
    bm_unit_type: str
    fuel_type: str | None
    bm_unit_name: str | None
    generation_capacity_mw: float
    demand_capacity_mw: float  # negative: import
    gsp_group_id: str | None
    gsp_group_name: str | None

    @property
    def is_secondary(self) -> bool:
        """A secondary (VLP) BM unit."""
        return self.bm_unit_type == "V" or self.elexon_bm_unit.startswith("V__")


def _capacity(index: int, field: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RegisterError(f"record {index} ({field}): {value!r} is not a number of MW") from None
    if number != number:
        raise RegisterError(f"record {index} ({field}): {value!r} is not a number of MW")
    return number


def parse_bm_units(payload: Any) -> list[BmUnit]:
    """BM units from an Elexon response: a bare array (per the spec) or {"data": [...]}."""
    if isinstance(payload, dict) and isinstance(payload.get("data"), list):
        records = payload["data"]
    elif isinstance(payload, list):
        records = payload
    else:
        raise RegisterError("expected a JSON array of BM units, or {\"data\": [...]}; got "
                            f"{type(payload).__name__}")
    units = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise RegisterError(f"record {index}: expected an object, got {type(record).__name__}")
        missing = [f for f in REQUIRED_FIELDS if f not in record]
        if missing:
            name = record.get("elexonBmUnit", "?")
            raise RegisterError(f"record {index} ({name}) lacks field(s): {', '.join(missing)}")
        gsp = record["gspGroupId"]
        if gsp is not None and gsp not in GSP_GROUP_IDS:
            raise RegisterError(f"record {index} ({record['elexonBmUnit']}): unknown GSP group "
                                f"{gsp!r}; expected one of _A.._P or null")
        units.append(BmUnit(
            national_grid_bm_unit=record["nationalGridBmUnit"],
            elexon_bm_unit=str(record["elexonBmUnit"]),
            lead_party_name=str(record["leadPartyName"]),
            lead_party_id=str(record["leadPartyId"]),
            bm_unit_type=str(record["bmUnitType"]),
            fuel_type=record["fuelType"],
            bm_unit_name=record["bmUnitName"],
            generation_capacity_mw=_capacity(index, "generationCapacity",
                                             record["generationCapacity"]),
            demand_capacity_mw=_capacity(index, "demandCapacity", record["demandCapacity"]),
            gsp_group_id=gsp,
            gsp_group_name=record["gspGroupName"],
        ))
    return units


def storage_evidence(unit: BmUnit) -> list[str]:
    """Why a unit looks like storage (empty: it does not)."""
    evidence = []
    name = unit.bm_unit_name or ""
    if _STORAGE_NAME.search(name):
        evidence.append(f"name {name.strip()!r} says battery/BESS/storage")
    exp, imp = unit.generation_capacity_mw, -unit.demand_capacity_mw
    if exp > 0 and imp > 0 and min(exp, imp) / max(exp, imp) >= SYMMETRY_RATIO \
            and unit.fuel_type in (None, "OTHER"):
        evidence.append(f"import {imp:g} MW and export {exp:g} MW of similar size, fuel type "
                        f"{unit.fuel_type or 'empty'}")
    if any(site in name.casefold() for site in KNOWN_STORAGE_SITES):
        evidence.append(f"{name.strip()!r} is a known storage site")
    return evidence


def vlp_parties(units: Iterable[BmUnit]) -> dict[str, list[str]]:
    """Lead parties that register secondary (V) units, with those units."""
    parties: dict[str, list[str]] = defaultdict(list)
    for unit in units:
        if unit.is_secondary:
            parties[unit.lead_party_id].append(unit.elexon_bm_unit)
    return dict(parties)


def build_register(units: list[BmUnit], source: str,
                   now: dt.datetime | None = None) -> dict[str, Any]:
    """The register document: metadata, summary statistics and the storage units."""
    now = now or dt.datetime.now(dt.UTC)
    vlps = vlp_parties(units)
    units_per_party = Counter(u.lead_party_id for u in units)
    rows = []
    for unit in units:
        evidence = storage_evidence(unit)
        if not evidence:
            continue
        vlp_evidence = []
        if unit.is_secondary:
            vlp_evidence.append(f"{unit.elexon_bm_unit} is a secondary (V) BM unit")
        if unit.lead_party_id in vlps and not unit.is_secondary:
            vlp_evidence.append(f"lead party {unit.lead_party_id} registers secondary unit(s) "
                                f"{', '.join(vlps[unit.lead_party_id])}")
        weak = bool(_VLP_NAME.search(unit.lead_party_name))
        is_vlp = unit.is_secondary or unit.lead_party_id in vlps
        by_seed_rule = units_per_party[unit.lead_party_id] > 1
        rows.append({
            **{k: v for k, v in asdict(unit).items()},
            "is_storage": True,
            "storage_evidence": evidence,
            "is_vlp": is_vlp,
            "vlp_evidence": vlp_evidence or ["no secondary (V) unit registered by the lead party"],
            "is_vlp_by_name": weak,
            "is_vlp_by_seed_rule": by_seed_rule,
            "seed_rule_disagrees": by_seed_rule != is_vlp,
        })
    return {
        "metadata": {
            "title": "GB battery storage BM units: VLP register",
            "description": "Storage BM units identified from Elexon BM unit reference data, each "
                           "classified as VLP-operated or direct with its evidence.",
            "generated_at": now.isoformat(timespec="seconds"),
            "source": source,
            "attribution": "Contains BMRS data © Elexon Limited",
            "records_read": len(units),
            "field_definitions": FIELD_DEFINITIONS,
        },
        "summary_statistics": summary(rows),
        "units": rows,
    }


FIELD_DEFINITIONS = {
    "national_grid_bm_unit": "National Grid BM unit id (e.g. ARBRB-1)",
    "elexon_bm_unit": "Elexon BM unit id (e.g. E_ARBRB-1; V__ for secondary units)",
    "lead_party_name": "registrant of the BM unit",
    "lead_party_id": "lead party id",
    "bm_unit_type": "E embedded, T transmission, V secondary (VLP), S supplier, ...",
    "fuel_type": "Elexon fuel type (OTHER or empty for batteries)",
    "generation_capacity_mw": "export capacity [MW]",
    "demand_capacity_mw": "import capacity [MW], negative",
    "gsp_group_id": "GSP group _A.._P (null for transmission-connected units)",
    "storage_evidence": "why the unit is taken as storage",
    "is_vlp": "operated by a Virtual Lead Party: secondary unit, or lead party registers one",
    "vlp_evidence": "the evidence behind is_vlp",
    "is_vlp_by_name": "weak: lead party name suggests an aggregator",
    "is_vlp_by_seed_rule": "the seed's rule: lead party has several BM units (comparison only)",
    "seed_rule_disagrees": "is_vlp_by_seed_rule differs from is_vlp",
}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def capacity(selected: list[dict[str, Any]]) -> float:
        return round(sum(r["generation_capacity_mw"] for r in selected), 3)

    vlp = [r for r in rows if r["is_vlp"]]
    direct = [r for r in rows if not r["is_vlp"]]
    operators: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        operators[r["lead_party_name"]].append(r)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r["gsp_group_name"] or "transmission (no GSP group)"].append(r)
    return {
        "total_units": len(rows),
        "total_export_capacity_mw": capacity(rows),
        "by_vlp_status": {
            "vlp": {"units": len(vlp), "export_capacity_mw": capacity(vlp)},
            "direct": {"units": len(direct), "export_capacity_mw": capacity(direct)},
        },
        "top_operators_by_capacity": [
            {"lead_party_name": name, "units": len(rs), "export_capacity_mw": capacity(rs),
             "is_vlp": any(r["is_vlp"] for r in rs)}
            for name, rs in sorted(operators.items(), key=lambda kv: -capacity(kv[1]))[:10]
        ],
        "by_gsp_group": {name: {"units": len(rs), "export_capacity_mw": capacity(rs)}
                         for name, rs in sorted(groups.items())},
        "seed_rule_disagreements": [
            {"elexon_bm_unit": r["elexon_bm_unit"], "lead_party_name": r["lead_party_name"],
             "seed_rule_says_vlp": r["is_vlp_by_seed_rule"], "evidence_says_vlp": r["is_vlp"]}
            for r in rows if r["seed_rule_disagrees"]
        ],
    }


SHEET_COLUMNS = ["elexon_bm_unit", "national_grid_bm_unit", "bm_unit_name", "lead_party_name",
                 "bm_unit_type", "generation_capacity_mw", "demand_capacity_mw", "gsp_group_name",
                 "is_vlp", "vlp_evidence", "is_vlp_by_seed_rule", "storage_evidence"]


def sheet_rows(register: dict[str, Any]) -> list[list[Any]]:
    """The ``VLP Batteries`` tab: a header and a row per unit (numbers as numbers)."""
    rows: list[list[Any]] = [SHEET_COLUMNS]
    for unit in register["units"]:
        rows.append([("; ".join(unit[c]) if isinstance(unit[c], list) else unit[c])
                     for c in SHEET_COLUMNS])
    return rows
