"""Unit conversions. Every conversion between p/kWh and £/MWh, kW and MW, and power and
energy per settlement period happens here and nowhere else."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Length of a GB settlement period. [h]
SETTLEMENT_PERIOD_H = 0.5

#: 1 p/kWh = 1000 kWh/MWh x 1 p / 100 p/£ = £10/MWh.
GBP_PER_MWH_PER_P_PER_KWH = 10.0

KW_PER_MW = 1000.0
KWH_PER_MWH = 1000.0


def p_per_kwh_to_gbp_per_mwh(rate_p_per_kwh: float) -> float:
    """Convert a tariff rate. [p/kWh] -> [£/MWh]"""
    return rate_p_per_kwh * GBP_PER_MWH_PER_P_PER_KWH


def gbp_per_mwh_to_p_per_kwh(rate_gbp_per_mwh: float) -> float:
    """Convert a tariff rate. [£/MWh] -> [p/kWh]"""
    return rate_gbp_per_mwh / GBP_PER_MWH_PER_P_PER_KWH


def kw_to_mw(power_kw: float) -> float:
    """[kW] -> [MW]"""
    return power_kw / KW_PER_MW


def kwh_to_mwh(energy_kwh: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """[kWh] -> [MWh]"""
    return np.asarray(energy_kwh, dtype=np.float64) / KWH_PER_MWH


def mw_to_mwh_per_period(power_mw: float) -> float:
    """Energy moved in one settlement period at constant power. [MW] -> [MWh]"""
    return power_mw * SETTLEMENT_PERIOD_H


def percent_to_fraction(value_pct: float) -> float:
    """[%] -> [1]"""
    return value_pct / 100.0


PENCE_PER_GBP = 100.0


def p_to_gbp(amount_p: float) -> float:
    """[p] -> [£] (also p/day -> £/day, p/kVA/day -> £/kVA/day)"""
    return amount_p / PENCE_PER_GBP


def kva_to_kw(apparent_power_kva: float, power_factor: float) -> float:
    """Real power of an apparent power at a power factor: kW = kVA x power factor."""
    return apparent_power_kva * power_factor


def mwh_per_period_to_mw(energy_mwh: float) -> float:
    """Average power of an energy moved in one settlement period. [MWh] -> [MW]"""
    return energy_mwh / SETTLEMENT_PERIOD_H
