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


# ------------------------------------------------- one year's calendar on another ----

def calendar_index(source_month: npt.NDArray[np.integer], source_weekend: npt.NDArray[np.bool_],
                   source_slot: npt.NDArray[np.integer], target_month: npt.NDArray[np.integer],
                   target_weekend: npt.NDArray[np.bool_], target_slot: npt.NDArray[np.integer]
                   ) -> npt.NDArray[np.int64]:
    """For each target period, the index of a source period of the same calendar month,
    day type (weekday or weekend) and local half hour: the target's k-th period of that
    kind takes the source's k-th (cycling where the source has fewer), so the day-to-day
    variety of the source is kept. Raises ValueError naming the months the source lacks."""
    def keys(month: npt.NDArray[np.integer], weekend: npt.NDArray[np.bool_],
             slot: npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
        return (np.asarray(month, dtype=np.int64) * 100 + np.asarray(weekend, dtype=np.int64) * 50
                + np.asarray(slot, dtype=np.int64))

    src, tgt = keys(source_month, source_weekend, source_slot), keys(target_month, target_weekend,
                                                                     target_slot)
    order = np.argsort(src, kind="stable")
    uniq, first, count = np.unique(src[order], return_index=True, return_counts=True)
    pos = np.clip(np.searchsorted(uniq, tgt), 0, max(len(uniq) - 1, 0))
    missing = ~(uniq[pos] == tgt) if len(uniq) else np.ones(len(tgt), dtype=bool)
    if missing.any():
        months = sorted({int(m) for m in np.asarray(target_month)[missing]})
        raise ValueError("no period of month(s) " + ", ".join(map(str, months))
                         + " (of that day type and half hour) to take from")
    t_order = np.argsort(tgt, kind="stable")
    _, t_first, t_inverse = np.unique(tgt[t_order], return_index=True, return_inverse=True)
    rank = np.empty(len(tgt), dtype=np.int64)
    rank[t_order] = np.arange(len(tgt)) - t_first[t_inverse]
    return order[first[pos] + rank % count[pos]].astype(np.int64)
