"""Rows 50-60 as money: each £ line rounded to the penny, totals from the rounded lines.

Rounding rule (so that every figure can be re-added by hand from the sheet): volumes are
computed exactly and written to the watt-hour (6 decimals of a MWh); each £ line is
rounded half-up to the penny; total cost is the sum of the rounded cost lines; profit =
PPA revenue + VLP revenue - total cost; the Total column is Stream 1 + Stream 2 line by
line; profit per MWh is profit / volume, to the penny. Prices per MWh are written to 4
decimals (a hundredth of a penny per MWh). Nothing is written with float noise
(132.39999999999998).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import numpy.typing as npt

from btm_ppa.core.charges import FixedCharges
from btm_ppa.core.valuation import StreamFigures

PENNY = Decimal("0.01")
#: Below this volume (1 mWh) a profit per MWh means nothing (and would overflow the
#: penny rounding): it is left blank, as for zero volume.
MIN_VOLUME_FOR_RATE_MWH = 1e-9


#: Precision of what is written: energy to the watt-hour, prices per MWh to 4 decimals.
ENERGY_DECIMALS = 6
PRICE_DECIMALS = 4
#: The energy price of each period, as valued and as exported: to 6 decimals of a £/MWh
#: (the price files hold at most 5), so rows 51-60 recompute from the export to the penny.
ENERGY_PRICE_DECIMALS = 6


def pennies(amount_gbp: float) -> Decimal:
    """Round an amount to the penny, half up, from its shortest decimal form."""
    return Decimal(repr(float(amount_gbp))).quantize(PENNY, rounding=ROUND_HALF_UP)


def written_gbp(amount_gbp: float) -> float:
    """An amount of money as written: to the penny, half up."""
    return float(pennies(amount_gbp))


def pennies_adding_up(amounts_gbp: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Each amount to the penny, such that they add up to their exact total rounded to the
    penny (a column of a schedule re-adds to its total): every amount is rounded down and
    the pennies left over go to the largest remainders."""
    amounts = np.asarray(amounts_gbp, dtype=float)
    cents = amounts * 100
    floor = np.floor(cents)
    target = int(pennies(math.fsum(amounts)) * 100)
    short = min(max(target - int(floor.sum()), 0), len(cents))
    floor[np.argsort(floor - cents, kind="stable")[:short]] += 1
    return floor / 100 + 0.0


def written_mwh(volume_mwh: float) -> float:
    """An energy as written: to the watt-hour (6 decimals of a MWh)."""
    return round(float(volume_mwh), ENERGY_DECIMALS) + 0.0  # + 0.0: no "-0.0"


def written_gbp_per_mwh(price_gbp_per_mwh: float) -> float:
    """A price or rate per MWh as written: to 4 decimals."""
    return round(float(price_gbp_per_mwh), PRICE_DECIMALS) + 0.0


@dataclass(frozen=True)
class StreamResult:
    """One column (Stream 1, Stream 2 or Total) of rows 51-60."""

    volume_mwh: float
    ppa_revenue_gbp: Decimal
    vlp_revenue_gbp: Decimal
    energy_cost_gbp: Decimal
    duos_cost_gbp: Decimal
    tnuos_bsuos_cost_gbp: Decimal
    levies_cost_gbp: Decimal

    @property
    def total_cost_gbp(self) -> Decimal:
        return (self.energy_cost_gbp + self.duos_cost_gbp + self.tnuos_bsuos_cost_gbp
                + self.levies_cost_gbp)

    @property
    def profit_gbp(self) -> Decimal:
        return self.ppa_revenue_gbp + self.vlp_revenue_gbp - self.total_cost_gbp

    @property
    def profit_gbp_per_mwh(self) -> Decimal | None:
        if abs(self.volume_mwh) < MIN_VOLUME_FOR_RATE_MWH:
            return None
        return (self.profit_gbp / Decimal(repr(self.volume_mwh))).quantize(
            PENNY, rounding=ROUND_HALF_UP)

    def row_values(self) -> dict[str, float | None]:
        """Values of rows 51-60 by result key, as numbers for the sheet."""
        per_mwh = self.profit_gbp_per_mwh
        return {
            "volume_mwh": written_mwh(self.volume_mwh),
            "ppa_revenue_gbp": float(self.ppa_revenue_gbp),
            "vlp_revenue_gbp": float(self.vlp_revenue_gbp),
            "energy_cost_gbp": float(self.energy_cost_gbp),
            "duos_cost_gbp": float(self.duos_cost_gbp),
            "tnuos_bsuos_cost_gbp": float(self.tnuos_bsuos_cost_gbp),
            "levies_cost_gbp": float(self.levies_cost_gbp),
            "total_cost_gbp": float(self.total_cost_gbp),
            "profit_gbp": float(self.profit_gbp),
            "profit_gbp_per_mwh": None if per_mwh is None else float(per_mwh),
        }


def round_stream(figures: StreamFigures) -> StreamResult:
    return StreamResult(
        volume_mwh=figures.volume_mwh,
        ppa_revenue_gbp=pennies(figures.ppa_revenue_gbp),
        vlp_revenue_gbp=pennies(figures.vlp_revenue_gbp),
        energy_cost_gbp=pennies(figures.energy_cost_gbp),
        duos_cost_gbp=pennies(figures.duos_cost_gbp),
        tnuos_bsuos_cost_gbp=pennies(figures.tnuos_bsuos_cost_gbp),
        levies_cost_gbp=pennies(figures.levies_cost_gbp),
    )


def add_streams(a: StreamResult, b: StreamResult) -> StreamResult:
    return StreamResult(
        volume_mwh=a.volume_mwh + b.volume_mwh,
        ppa_revenue_gbp=a.ppa_revenue_gbp + b.ppa_revenue_gbp,
        vlp_revenue_gbp=a.vlp_revenue_gbp + b.vlp_revenue_gbp,
        energy_cost_gbp=a.energy_cost_gbp + b.energy_cost_gbp,
        duos_cost_gbp=a.duos_cost_gbp + b.duos_cost_gbp,
        tnuos_bsuos_cost_gbp=a.tnuos_bsuos_cost_gbp + b.tnuos_bsuos_cost_gbp,
        levies_cost_gbp=a.levies_cost_gbp + b.levies_cost_gbp,
    )


@dataclass(frozen=True)
class ResultTable:
    stream1: StreamResult
    stream2: StreamResult

    @property
    def total(self) -> StreamResult:
        return add_streams(self.stream1, self.stream2)


def result_table(stream1: StreamFigures, stream2: StreamFigures) -> ResultTable:
    return ResultTable(round_stream(stream1), round_stream(stream2))


def with_fixed_charges(table: ResultTable, fixed: FixedCharges,
                       stream2: FixedCharges | None = None) -> ResultTable:
    """Both streams with the window's fixed and capacity charges added: DUoS (fixed +
    capacity + exceeded capacity) to row 55, the TNUoS residual (and Triad charge) to row
    56, each rounded to the penny on its own, so total cost rises by exactly those
    amounts. ``fixed`` is what the site pays without the battery (Stream 1); ``stream2``
    what the battery adds (a higher agreed capacity, a higher residual band)."""

    def add(result: StreamResult, charges: FixedCharges | None) -> StreamResult:
        if charges is None:
            return result
        return replace(
            result, duos_cost_gbp=result.duos_cost_gbp + pennies(charges.duos_gbp),
            tnuos_bsuos_cost_gbp=result.tnuos_bsuos_cost_gbp + pennies(charges.tnuos_gbp))

    return ResultTable(add(table.stream1, fixed), add(table.stream2, stream2))
