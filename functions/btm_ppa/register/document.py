"""The register document in the shape seed 000 published for ``vlp_battery_units_data.json``:
``metadata``, ``summary_statistics`` and ``battery_units``, with the field names and
types of the seed's file, so scripts written against that file keep working.

The seed's shape is kept, not its logic: ``is_vlp`` is the evidence-based verdict of
``bm_units`` (a secondary unit, or a lead party that registers one), never the seed's rule
(a lead party with several BM units). The seed's flags keep honest meanings, and our
evidence sits beside them as extra fields: ``storage_evidence``, ``vlp_evidence``,
``aggregator_code_evidence``, the seed rule's verdict and whether it disagrees.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from typing import Any

from btm_ppa.register.bm_units import (
    BmUnit,
    aggregator_code_evidence,
    is_vlp_by_name,
    storage_evidence,
    vlp_parties,
)

TITLE = "GB Battery Storage BMU Units - VLP Analysis"
#: The fields of each ``battery_units`` entry that seed 000 publishes, in its order.
SEED_UNIT_FIELDS = ("nationalGridBmUnit", "elexonBmUnit", "leadPartyName", "leadPartyId",
                    "fuelType", "generationCapacity", "demandCapacity", "bmUnitType",
                    "bmUnitName", "gspGroupName", "is_vlp", "is_vlp_by_name",
                    "is_aggregator_code", "multiple_assets")
#: Our additions beside them: the GSP group id and the evidence.
EVIDENCE_FIELDS = ("gspGroupId", "aggregator_code_evidence", "storage_evidence", "vlp_evidence",
                   "is_vlp_by_seed_rule", "seed_rule_disagrees")
UNIT_FIELDS = SEED_UNIT_FIELDS + EVIDENCE_FIELDS
#: The ``by_gsp_group`` key of units without a GSP group (transmission-connected).
NO_GSP_GROUP = "none (transmission-connected)"

DATA_FIELDS = {
    "nationalGridBmUnit": "National Grid BM unit id (e.g. ARBRB-1)",
    "elexonBmUnit": "Elexon BM unit id, as in BOD data (e.g. E_ARBRB-1; V__ for secondary units)",
    "leadPartyName": "lead party: the company that registers the BM unit",
    "leadPartyId": "lead party id",
    "fuelType": "Elexon fuel type: OTHER or null for batteries, never BATTERY",
    "generationCapacity": "export capacity [MW] (0 for a secondary unit, which registers none)",
    "demandCapacity": "import capacity [MW], negative (charging) or 0",
    "bmUnitType": "E embedded, T transmission, V secondary (VLP), S supplier, ...",
    "bmUnitName": "site or project name",
    "gspGroupName": "Grid Supply Point group (null for transmission-connected units)",
    "is_vlp": "operated by a Virtual Lead Party on the evidence: a secondary (V) unit, or its "
              "lead party registers one (see vlp_evidence); not the seed's rule",
    "is_vlp_by_name": "weak: the lead party's name suggests an aggregator (not used for is_vlp)",
    "is_aggregator_code": "the Elexon id marks an aggregation of metering systems: prefix V__ "
                          "(secondary unit) or 2__ (supplier BM unit); see "
                          "aggregator_code_evidence",
    "multiple_assets": "the lead party registers more than one BM unit among the records read: "
                       "a description of its portfolio, not VLP evidence",
    "gspGroupId": "GSP group id _A.._P (null for transmission-connected units)",
    "aggregator_code_evidence": "what in the id marks an aggregation (null: nothing)",
    "storage_evidence": "why the unit is taken as storage",
    "vlp_evidence": "the evidence behind is_vlp",
    "is_vlp_by_seed_rule": "the seed's rule, 'a lead party with several BM units is a VLP' "
                           "(equals multiple_assets); kept for comparison only",
    "seed_rule_disagrees": "is_vlp_by_seed_rule differs from is_vlp",
}


def unit_entry(unit: BmUnit, evidence: list[str], vlps: dict[str, list[str]],
               units_per_party: Counter[str]) -> dict[str, Any]:
    """One ``battery_units`` entry: the seed's fields, then ours."""
    is_vlp = unit.is_secondary or unit.lead_party_id in vlps
    vlp_evidence = []
    if unit.is_secondary:
        vlp_evidence.append(f"{unit.elexon_bm_unit} is a secondary (V) BM unit")
    if unit.lead_party_id in vlps and not unit.is_secondary:
        vlp_evidence.append(f"lead party {unit.lead_party_id} registers secondary unit(s) "
                            f"{', '.join(vlps[unit.lead_party_id])}")
    several = units_per_party[unit.lead_party_id] > 1
    code = aggregator_code_evidence(unit)
    return {
        "nationalGridBmUnit": unit.national_grid_bm_unit,
        "elexonBmUnit": unit.elexon_bm_unit,
        "leadPartyName": unit.lead_party_name,
        "leadPartyId": unit.lead_party_id,
        "fuelType": unit.fuel_type,
        "generationCapacity": unit.generation_capacity_mw,
        "demandCapacity": unit.demand_capacity_mw,
        "bmUnitType": unit.bm_unit_type,
        "bmUnitName": unit.bm_unit_name,
        "gspGroupName": unit.gsp_group_name,
        "is_vlp": is_vlp,
        "is_vlp_by_name": is_vlp_by_name(unit),
        "is_aggregator_code": code is not None,
        "multiple_assets": several,
        "gspGroupId": unit.gsp_group_id,
        "aggregator_code_evidence": code,
        "storage_evidence": evidence,
        "vlp_evidence": vlp_evidence or ["no secondary (V) unit registered by the lead party"],
        "is_vlp_by_seed_rule": several,
        "seed_rule_disagrees": several != is_vlp,
    }


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def build_register(units: list[BmUnit], source: str,
                   now: dt.datetime | None = None) -> dict[str, Any]:
    """The register document: metadata, summary statistics and the storage units."""
    now = now or dt.datetime.now(dt.UTC)
    vlps = vlp_parties(units)
    units_per_party = Counter(u.lead_party_id for u in units)
    rows = [unit_entry(unit, evidence, vlps, units_per_party)
            for unit in units if (evidence := storage_evidence(unit))]
    vlp_count = sum(r["is_vlp"] for r in rows)
    return {
        "metadata": {
            "title": TITLE,
            "description": "Battery storage BM units in the GB balancing mechanism, found in "
                           "Elexon BM unit reference data, each classified as VLP-operated or "
                           "direct-operated with its evidence.",
            "generated_date": now.isoformat(timespec="seconds"),
            "analysis_date": now.date().isoformat(),
            "data_source": source,
            "total_battery_bmus": len(rows),
            "total_vlp_operated": vlp_count,
            "total_direct_operated": len(rows) - vlp_count,
            "vlp_percentage": _percent(vlp_count, len(rows)),
            "data_fields": DATA_FIELDS,
            "records_read": len(units),
            "attribution": "Contains BMRS data © Elexon Limited",
        },
        "summary_statistics": summary(rows),
        "battery_units": rows,
    }


def _mw(rows: list[dict[str, Any]]) -> float:
    """Total export capacity. [MW]"""
    return round(sum(r["generationCapacity"] for r in rows), 3)


def _average_mw(rows: list[dict[str, Any]]) -> float | None:
    return round(statistics.fmean(r["generationCapacity"] for r in rows), 3) if rows else None


def _by_name(rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Rows grouped by lead party name, largest export capacity first (then by name)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r["leadPartyName"]].append(r)
    return sorted(groups.items(), key=lambda kv: (-_mw(kv[1]), kv[0]))


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The seed's summary statistics (capacities are export capacities, MW), and the
    seed rule's disagreements."""
    def status(selected: list[dict[str, Any]]) -> dict[str, Any]:
        return {"count": len(selected), "total_capacity_mw": _mw(selected),
                "avg_capacity_mw": _average_mw(selected),
                "percentage": _percent(len(selected), len(rows))}

    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r["gspGroupName"] or NO_GSP_GROUP].append(r)
    capacities = [r["generationCapacity"] for r in rows]
    return {
        "total_capacity_mw": _mw(rows),
        "average_capacity_mw": _average_mw(rows),
        "median_capacity_mw": round(statistics.median(capacities), 3) if rows else None,
        "by_vlp_status": {
            "vlp_operated": status([r for r in rows if r["is_vlp"]]),
            "direct_operated": status([r for r in rows if not r["is_vlp"]]),
        },
        "top_vlp_operators": [
            {"name": name, "bmu_count": len(rs), "total_capacity_mw": _mw(rs)}
            for name, rs in _by_name([r for r in rows if r["is_vlp"]])[:10]
        ],
        "by_gsp_group": {name: {"count": len(rs), "total_capacity_mw": _mw(rs)}
                         for name, rs in sorted(groups.items())},
        "top_operators_by_capacity": [
            {"name": name, "bmu_count": len(rs), "total_capacity_mw": _mw(rs),
             "is_vlp": any(r["is_vlp"] for r in rs)}
            for name, rs in _by_name(rows)[:10]
        ],
        "seed_rule_disagreements": [
            {"elexonBmUnit": r["elexonBmUnit"], "leadPartyName": r["leadPartyName"],
             "seed_rule_says_vlp": r["is_vlp_by_seed_rule"], "evidence_says_vlp": r["is_vlp"]}
            for r in rows if r["seed_rule_disagrees"]
        ],
    }
