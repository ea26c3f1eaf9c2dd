"""GB battery (storage) BM units from Elexon BM unit reference data
(``/reference/bmunits/all``), and the evidence each classification rests on.

- Storage: fuel type is ``OTHER`` or empty for batteries, never "BATTERY", so the
  evidence is the name (battery, BESS, storage), import and export capacities of similar
  size, and a short list of known storage sites.
- VLP: a secondary BM unit (type ``V``, id ``V__...``) is registered by a Virtual Lead
  Party, so a lead party that registers one is a VLP and its storage units are
  VLP-operated. Name keywords are recorded as weak evidence only. The seed's rule ("a
  lead party with several BM units is a VLP") is kept as a comparison column, and where it
  disagrees the register lists it.
- Aggregation in the id: ``V__`` (a secondary BM unit) and ``2__`` (a supplier BM unit)
  are made of metering systems a party groups together, possibly several sites.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
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


#: The largest magnitude of a BM unit's capacity taken as real (the largest GB units are
#: about 2 GW); 1e308 or inf is a broken record that would turn the totals into inf. [MW]
MAX_PLAUSIBLE_CAPACITY_MW = 10_000.0


def _capacity(index: int, field: str, value: Any) -> float:
    expected = (f"expected a finite number of MW from {-MAX_PLAUSIBLE_CAPACITY_MW:,.0f} to "
                f"{MAX_PLAUSIBLE_CAPACITY_MW:,.0f}")
    try:
        if isinstance(value, bool):  # float(True) is 1.0: a flag, not a capacity
            raise TypeError
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise RegisterError(f"record {index} ({field}): {value!r} is not a number of MW; "
                            f"{expected}") from None
    if not abs(number) <= MAX_PLAUSIBLE_CAPACITY_MW:  # NaN too
        raise RegisterError(f"record {index} ({field}): {value!r} is not a plausible "
                            f"capacity; {expected}")
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
    if not records:  # would replace the register held with an empty one
        raise RegisterError("the answer holds no BM units (an empty list): expected Elexon's "
                            "list of every BM unit; nothing was loaded, try again later")
    units = []
    seen: dict[str, int] = {}
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise RegisterError(f"record {index}: expected an object, got {type(record).__name__}")
        missing = [f for f in REQUIRED_FIELDS if f not in record]
        if missing:
            name = record.get("elexonBmUnit", "?")
            raise RegisterError(f"record {index} ({name}) lacks field(s): {', '.join(missing)}")
        unit_id = record["elexonBmUnit"]
        if not isinstance(unit_id, str) or not unit_id.strip():
            raise RegisterError(f"record {index} (elexonBmUnit): {unit_id!r} is not a BM unit "
                                "id; expected text such as 'E_ABCD-1'")
        if unit_id in seen:
            raise RegisterError(f"record {index} ({unit_id}) repeats record {seen[unit_id]}: "
                                "expected each BM unit once; nothing was loaded")
        seen[unit_id] = index
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


def is_vlp_by_name(unit: BmUnit) -> bool:
    """Weak evidence only: the lead party's name suggests an aggregator."""
    return bool(_VLP_NAME.search(unit.lead_party_name))


def aggregator_code_evidence(unit: BmUnit) -> str | None:
    """What in the Elexon id says the unit is an aggregation of metering systems (None:
    nothing). ``V__``: a secondary BM unit, formed by a Virtual Lead Party; ``2__`` + GSP
    group letter: a supplier BM unit, formed from the supplier's metering systems in that
    group, so it may take in several sites."""
    code = unit.elexon_bm_unit
    if code.startswith("V__"):
        return (f"{code}: prefix V__, a secondary BM unit that a Virtual Lead Party forms from "
                "metering systems")
    if code.startswith("2__") and len(code) > 3:
        return (f"{code}: prefix 2__, a supplier BM unit formed from the supplier's metering "
                f"systems in GSP group _{code[3]}")
    return None
