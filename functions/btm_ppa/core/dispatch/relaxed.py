"""The search's relaxed forms and the words for where an answer came from (see
``optimal``): the hull of each period's two modes, its plan rounded to one mode per
period, the programme with the modes fixed; and small helpers the search shares."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from btm_ppa.core.dispatch import value_function
from btm_ppa.core.dispatch.model import (
    ENERGY_TOLERANCE_MWH,
    DispatchProblem,
    FloatArray,
    Schedule,
)

#: Where an answer's schedule came from (``OptimalResult.source``).
SEARCH = "search"  # the programme, its price rounds or the branch-and-bound
RULE = "rule"  # the battery-first rule (greedy)
IDLE = "idle"  # no battery use at all: worth exactly £0
RELAXATION = "relaxation"  # the relaxation LP's schedule, repaired to one mode per period

#: Why a search stopped before its end (``OptimalResult.cut_short``).
DEADLINE = "deadline"
MEMORY_BUDGET = "memory budget"

#: Words for where an optimal schedule came from (row 61 says them when the search is cut
#: short).
SOURCE_WORDS = {
    SEARCH: "the best the search found",
    RULE: "the battery-first rule's (better than no battery and the relaxation's)",
    IDLE: "no battery use at all (better than the rule's and the relaxation's)",
    RELAXATION: "the relaxation's, repaired to one mode per period (better than the rule's "
                "and no battery use)",
}


def schedule_of(problem: DispatchProblem, change: FloatArray) -> Schedule:
    eff = problem.battery.round_trip_efficiency_frac
    charge = np.where(change > 0, change / eff, 0.0)
    discharge = np.where(change < 0, -change, 0.0)
    return Schedule(charge, discharge, np.cumsum(change))


def keeps_limit(problem: DispatchProblem, schedule: Schedule) -> bool:
    daily = np.bincount(problem.day_index, weights=schedule.discharge_mwh)
    return bool((daily <= problem.battery.daily_discharge_limit_mwh + ENERGY_TOLERANCE_MWH).all())


def hull_kernel(cost_per_stored: FloatArray, earns: FloatArray, stored_cap: FloatArray,
                 discharge_cap: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The concave envelope of each period's gain g(u) (u: change of stored energy, -a u
    charging up to hc, -b u discharging down to -hx): where doing both pays (b > a), the
    line through its two ends, g(u) = burn - slope u, the relaxation LP's hull row;
    elsewhere g itself. Returns the programme's a and b (both the slope where doing both
    pays) and the burn (£) per period to add to its value."""
    both = (earns > cost_per_stored) & (stored_cap > 0) & (discharge_cap > 0)
    span = np.where(both, stored_cap + discharge_cap, 1.0)
    slope = (cost_per_stored * stored_cap + earns * discharge_cap) / span
    burn = np.where(both, stored_cap * discharge_cap * (earns - cost_per_stored) / span, 0.0)
    return np.where(both, slope, cost_per_stored), np.where(both, slope, earns), burn


def fixed_mode_programme(problem: DispatchProblem, charge_open: npt.NDArray[np.bool_],
                         discharge_open: npt.NDArray[np.bool_], deadline: float | None,
                         max_points: int) -> Schedule | None:
    """The best schedule with the given modes open and the daily limit left out, by the
    programme (concave where at most one mode is open wherever doing both pays); None if
    it breaks the limit, which the fixed-mode LP must then price."""
    eff = problem.battery.round_trip_efficiency_frac
    cost = problem.import_cost_gbp_per_mwh
    try:
        plan = value_function.solve(
            cost / eff, cost + problem.vlp_gbp_per_mwh,
            np.where(charge_open, eff * problem.charge_cap_mwh, 0.0),
            np.where(discharge_open, problem.discharge_cap_mwh, 0.0),
            problem.battery.capacity_mwh, deadline, max_points=max_points)
    except value_function.ProgrammeTooLarge:  # both modes left open somewhere it pays
        return None
    schedule = schedule_of(problem, plan.stored_change_mwh)
    return schedule if keeps_limit(problem, schedule) else None


def rounded_modes(plan: value_function.Plan, pays: npt.NDArray[np.bool_],
                  stored_cap: FloatArray, discharge_cap: FloatArray
                  ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """One mode per period where doing both pays, from the hull programme's plan: there its
    change u = lam hc - (1 - lam) hx charges a share lam of the period. The shares are
    rounded along time (error diffusion), so that over any run of periods the number
    charging follows the sum of lam and the stored energy stays near the plan's; the
    fixed-mode LP then sets the amounts. Both modes stay open where doing both does not
    pay."""
    u = plan.stored_change_mwh
    span = stored_cap + discharge_cap
    lam = np.clip(np.divide(u + discharge_cap, span, out=np.zeros_like(u), where=span > 0),
                  0.0, 1.0)
    charge = np.zeros(len(u), dtype=bool)
    carry = 0.0
    for t in np.flatnonzero(pays & (stored_cap > 0) & (discharge_cap > 0)).tolist():
        carry += lam[t]
        if carry >= 0.5:
            charge[t] = True
            carry -= 1.0
    return ~pays | charge | (discharge_cap <= 0), ~pays | ~charge
