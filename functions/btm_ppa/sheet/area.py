"""The site's DNO area from the tab: the MPAN core's distributor id, or a GSP group typed in."""

from __future__ import annotations

from collections.abc import Sequence

from btm_ppa.core.area import GspGroup, mpan_check_digit
from btm_ppa.errors import InputError


def parse_mpan_core(cell: str, raw: object) -> str:
    """Validate an MPAN core (13 digits, valid check digit); spaces are ignored."""
    text = str(int(raw)) if isinstance(raw, float) and raw.is_integer() else str(raw)
    digits = text.replace(" ", "")
    expected = "a 13-digit MPAN core (distributor id 10-23 first)"
    if len(digits) != 13 or not (digits.isascii() and digits.isdigit()):  # not '²' or '١'
        raise InputError(cell, raw, expected, "is not an MPAN core")
    if mpan_check_digit(digits[:12]) != int(digits[12]):
        raise InputError(
            cell, raw, f"{expected} whose last digit is its check digit "
            f"({mpan_check_digit(digits[:12])} for these first twelve)",
            "fails the MPAN check digit",
        )
    return digits


def _blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def resolve_area(
    groups: Sequence[GspGroup],
    mpan_cell: str,
    mpan_raw: object,
    area_cell: str,
    area_raw: object,
) -> GspGroup:
    """The site's GSP group from the MPAN core, or else the area typed in.

    The area may be a GSP group id (``_C`` or ``C``), a GSP group name (``London``) or a
    distributor id (``12``).
    """
    if not _blank(mpan_raw):
        mpan = parse_mpan_core(mpan_cell, mpan_raw)
        distributor_id = int(mpan[:2])
        for group in groups:
            if group.distributor_id == distributor_id:
                return group
        raise InputError(
            mpan_cell, mpan_raw, "an MPAN core whose first two digits, the distributor id, "
            "are 10-23", f"has distributor id {mpan[:2]}, which is no GB DNO area",
        )
    if _blank(area_raw):
        raise InputError(
            area_cell, area_raw,
            f"a GSP group id (_A.._P) or name when {mpan_cell} (MPAN core) is blank",
            "is required",
        )
    key = (str(int(area_raw)) if isinstance(area_raw, float) and area_raw.is_integer()
           else str(area_raw).strip())
    folded = key.casefold()
    for group in groups:
        if folded in (
            group.gsp_group_id.casefold(),
            group.gsp_group_id.lstrip("_").casefold(),
            group.name.casefold(),
            str(group.distributor_id),
        ):
            return group
    names = ", ".join(f"{g.gsp_group_id} {g.name}" for g in groups)
    raise InputError(area_cell, area_raw, f"one of {names}", "is not a GB DNO area")
