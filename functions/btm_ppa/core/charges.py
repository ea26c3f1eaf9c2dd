"""Charges levied per site per day, whatever the energy: the DUoS fixed charge, the DUoS
capacity charge on the agreed import capacity, and the TNUoS demand residual; and the
agreed import capacity as a limit on site import in every settlement period.

Arithmetic (see README, "The `sheet` method, and how to check it by hand", its fixed and
capacity charges): over a span of ``days`` days

    DUoS  £ = days x (fixed £/day + capacity p/kVA/day / 100 x agreed capacity kVA)
    TNUoS £ = days x residual £/day

summed over spans (a window crossing 1 April takes each charging year's rates for its own
days). They are Stream 1's: the site pays them with or without the battery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from btm_ppa.core.units import kva_to_kw, kw_to_mw, mw_to_mwh_per_period, p_to_gbp

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DailyCharges:
    """Per-day charges over a span of ``days`` settlement days."""

    days: int
    duos_fixed_gbp_per_day: float = 0.0
    duos_capacity_p_per_kva_day: float = 0.0
    tnuos_residual_gbp_per_day: float = 0.0

    def __post_init__(self) -> None:
        if self.days < 0:
            raise ValueError(f"days {self.days}: expected 0 or more")


@dataclass(frozen=True)
class FixedCharges:
    """Fixed and capacity charges of a window, unrounded. [£]"""

    duos_gbp: float = 0.0  # fixed + capacity
    tnuos_gbp: float = 0.0  # demand residual

    @property
    def total_gbp(self) -> float:
        return self.duos_gbp + self.tnuos_gbp


def fixed_charges(spans: Sequence[DailyCharges],
                  agreed_import_capacity_kva: float | None) -> FixedCharges:
    """The window's fixed charges: each span's days x its daily rates. [£]

    Without an agreed capacity the capacity charge is zero (there is nothing to charge it
    on); the fixed and residual charges still apply.
    """
    kva = agreed_import_capacity_kva or 0.0
    duos = sum(s.days * (s.duos_fixed_gbp_per_day + p_to_gbp(s.duos_capacity_p_per_kva_day) * kva)
               for s in spans)
    tnuos = sum(s.days * s.tnuos_residual_gbp_per_day for s in spans)
    return FixedCharges(duos_gbp=float(duos), tnuos_gbp=float(tnuos))


def site_import_limit_mwh(agreed_import_capacity_kva: float, power_factor: float) -> float:
    """Most energy the site may import in one settlement period:
    kVA x power factor = kW, over half an hour. [MWh]"""
    return mw_to_mwh_per_period(kw_to_mw(kva_to_kw(agreed_import_capacity_kva, power_factor)))


@dataclass(frozen=True)
class LimitBreach:
    """Periods whose demand alone exceeds the site import limit."""

    periods: int
    largest_excess_mwh: float  # in one period
    total_excess_mwh: float

    def describe(self, limit_mwh: float) -> str:
        return (f"demand alone exceeds the import limit ({limit_mwh:g} MWh a period) in "
                f"{self.periods:,} period(s), by up to {self.largest_excess_mwh:.3f} MWh "
                f"({self.total_excess_mwh:,.3f} MWh in all)")


def demand_above_limit(demand_mwh: FloatArray, limit_mwh: float) -> LimitBreach | None:
    """Where demand alone is above the limit, or None when it never is."""
    excess = np.asarray(demand_mwh, dtype=np.float64) - limit_mwh
    over = excess > 1e-9
    if not over.any():
        return None
    return LimitBreach(int(over.sum()), float(excess[over].max()), float(excess[over].sum()))


def residual_band(thresholds: Sequence[tuple[int, float, float]], capacity: float) -> int:
    """The residual charging band whose (lower, upper] range holds ``capacity``.

    ``thresholds`` are (band, lower, upper) in the statement's unit (kVA); the top band's
    upper bound is infinity. A capacity of 0 falls in the lowest band.
    """
    ordered = sorted(thresholds, key=lambda t: t[1])
    if not ordered:
        raise ValueError("no residual band thresholds")
    for band, lower, upper in ordered:
        if (lower < capacity or lower == ordered[0][1]) and capacity <= upper:
            return band
    return ordered[-1][0]
