"""Closed vocabularies of the model."""

from __future__ import annotations

from enum import StrEnum


class DuosBand(StrEnum):
    """DUoS time band of a settlement period, as in the DNO charging statements."""

    RED = "red"
    AMBER = "amber"
    GREEN = "green"


#: Bands in the order the workbook rows list them (rows 28, 29, 30).
BANDS: tuple[DuosBand, ...] = (DuosBand.RED, DuosBand.AMBER, DuosBand.GREEN)


class Method(StrEnum):
    """How the refresh values the deal (cell B22)."""

    SHEET = "sheet"
    GREEDY = "greedy"
    OPTIMAL = "optimal"
    #: Non-anticipative: a plan a day on a price forecast, settled at outturn prices.
    REALISTIC = "realistic"


class Stream(StrEnum):
    """How site demand is served in a settlement period."""

    GRID = "stream 1 (direct import)"
    BATTERY = "stream 2 (battery)"


class VoltageLevel(StrEnum):
    """Connection voltage of the site (cell B9)."""

    LV = "LV"
    HV = "HV"
    EHV = "EHV"
