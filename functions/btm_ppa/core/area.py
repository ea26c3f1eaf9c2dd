"""GB DNO areas (GSP groups) and the MPAN core check digit."""

from __future__ import annotations

from dataclasses import dataclass

#: Weights of the MPAN core check digit (the first twelve primes from 3, as in MRA).
_CHECK_WEIGHTS = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)


@dataclass(frozen=True)
class GspGroup:
    """A GSP group (DNO licence area)."""

    gsp_group_id: str  # "_A".."_P"
    name: str
    distributor_id: int  # MPAN prefix 10..23
    dno: str


def mpan_check_digit(first_twelve: str) -> int:
    """Check digit of an MPAN core from its first twelve digits."""
    total = sum(int(d) * w for d, w in zip(first_twelve, _CHECK_WEIGHTS, strict=True))
    return total % 11 % 10
