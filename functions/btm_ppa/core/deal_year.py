"""One price year of the deal: its figures at a usable capacity, from a dispatch schedule,
and interpolated between the few capacities a year is dispatched at. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from btm_ppa.core.dispatch import DispatchProblem, Schedule, no_battery
from btm_ppa.core.simulation import ChargeRates, PeriodRates, value_schedule
from btm_ppa.core.valuation import StreamFigures

FloatArray = npt.NDArray[np.float64]

#: Usable capacities (share of nameplate) each price year is dispatched at by default.
VALUATION_POINTS: tuple[float, ...] = (1.0, 0.8, 0.6)


@dataclass(frozen=True)
class YearFigures:
    """One price year dispatched at one usable capacity, at the typed prices. Every line is
    additive, so figures interpolate and scale line by line. [MWh, £]"""

    demand_mwh: float
    discharge_mwh: float
    charge_mwh: float
    energy_cost_gbp: float  # both streams' imports at the energy price
    network_cost_gbp: float  # DUoS + TNUoS + BSUoS, fixed and capacity charges included
    levies_cost_gbp: float  # CCL + RO + FiT
    charging_cost_gbp: float  # the battery's charging, all charges (part of the above)
    counterfactual_cost_gbp: float  # the site's demand all from the grid, all charges

    def combine(self, other: YearFigures, weight: float) -> YearFigures:
        """(1 - weight) x self + weight x other, line by line."""
        a, b = _fields(self), _fields(other)
        return YearFigures(**{k: (1.0 - weight) * a[k] + weight * b[k] for k in a})


def _fields(figures: YearFigures) -> dict[str, float]:
    return {k: getattr(figures, k) for k in YearFigures.__dataclass_fields__}


def interpolate(points: Mapping[float, YearFigures], capacity_frac: float) -> YearFigures:
    """Figures at ``capacity_frac`` from those valued at a few capacities (linear between
    neighbours, extended linearly beyond the outermost)."""
    xs = sorted(points)
    if len(xs) == 1:
        return points[xs[0]]
    i = int(np.clip(np.searchsorted(xs, capacity_frac) - 1, 0, len(xs) - 2))
    lo, hi = xs[i], xs[i + 1]
    return points[lo].combine(points[hi], (capacity_frac - lo) / (hi - lo))


# ------------------------------------------------------- from schedules to figures ----

#: Makes a schedule for a dispatch problem (optimal, greedy, realistic ...).
Dispatcher = Callable[[DispatchProblem], Schedule]


def year_figures(problem: DispatchProblem, schedule: Schedule,
                 energy_price_gbp_per_mwh: FloatArray, rates: ChargeRates | PeriodRates,
                 fixed_charges_gbp: float) -> YearFigures:
    """A price year's lines for one schedule; the site's fixed and capacity charges
    (``fixed_charges_gbp``) count as network costs, with or without the battery."""
    s = value_schedule(problem, schedule, energy_price_gbp_per_mwh, rates, 0.0).valuation
    none = value_schedule(problem, no_battery(problem), energy_price_gbp_per_mwh, rates,
                          0.0).valuation.stream1
    s1, s2 = s.stream1, s.stream2
    return YearFigures(
        demand_mwh=float(problem.demand_mwh.sum()),
        discharge_mwh=float(schedule.discharge_mwh.sum()),
        charge_mwh=float(schedule.charge_mwh.sum()),
        energy_cost_gbp=s1.energy_cost_gbp + s2.energy_cost_gbp,
        network_cost_gbp=(s1.duos_cost_gbp + s2.duos_cost_gbp + s1.tnuos_bsuos_cost_gbp
                          + s2.tnuos_bsuos_cost_gbp + fixed_charges_gbp),
        levies_cost_gbp=s1.levies_cost_gbp + s2.levies_cost_gbp,
        charging_cost_gbp=_cost(s2),
        counterfactual_cost_gbp=_cost(none) + fixed_charges_gbp)


def _cost(stream: StreamFigures) -> float:
    return (stream.energy_cost_gbp + stream.duos_cost_gbp + stream.tnuos_bsuos_cost_gbp
            + stream.levies_cost_gbp)


def sized(problem: DispatchProblem, power_mw: float, capacity_mwh: float) -> DispatchProblem:
    """The problem with a battery of another power (charge and discharge) and capacity."""
    battery = replace(problem.battery, charge_power_mw=power_mw, discharge_power_mw=power_mw,
                      capacity_mwh=capacity_mwh)
    return replace(problem, battery=battery)


def capacity_points(problem: DispatchProblem, dispatcher: Dispatcher,
                    energy_price_gbp_per_mwh: FloatArray, rates: ChargeRates | PeriodRates,
                    fixed_charges_gbp: float,
                    capacities: Sequence[float] = VALUATION_POINTS) -> dict[float, YearFigures]:
    """The year's figures with the battery's usable capacity at each share of nameplate."""
    b = problem.battery
    return {c: year_figures(faded := sized(problem, b.discharge_power_mw, b.capacity_mwh * c),
                            dispatcher(faded), energy_price_gbp_per_mwh, rates,
                            fixed_charges_gbp)
            for c in capacities}
