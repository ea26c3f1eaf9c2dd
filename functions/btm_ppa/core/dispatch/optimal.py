"""The exact optimum of the dispatch problem (see ``model``), with a certificate.

1. ``value_function.solve`` runs the exact dynamic programme over stored energy with the
   daily cycle limit priced at nu_d per MWh discharged on day d (a Lagrangian relaxation
   of the limit; nu = 0 first). For any nu >= 0 its value plus sum(nu_d x daily limit) is
   an upper bound on every feasible schedule's value (weak duality), and its schedule
   charges or discharges, never both, in every period.
   Past ``EXACT_POINTS`` breakpoints kept it runs relaxed, its value still a bound: the
   compiled programme caps each value function at ``CAPPED_BREAKPOINTS`` (raised, never
   lowered); the Python form takes each period's concave envelope (``relaxed``: the
   relaxation LP's hull rows), its plan rounded to one mode per period.
2. If that schedule keeps every day's cycle limit with nu = 0, bound and value coincide:
   it is optimal.
3. Otherwise the cycle limit binds. The LP with each period's open mode fixed as the
   programme chose it (charge only or discharge only wherever doing both would pay;
   both elsewhere, where the LP never gains by doing both) gives the best schedule for
   those modes with the limit exact, and the limit's prices nu (its duals). The programme
   is run again at those prices: its bound either meets the LP's value (optimal: the
   certificate) or it picks other modes, and the LP is re-solved with them: at most
   ``max_rounds`` programme runs (``MAX_ROUNDS`` by default). The LP with modes fixed
   is a minimum-cost circulation: the compiled network simplex (``network``) solves it,
   HiGHS (``lp``) where that is not installed.
4. Where a duality gap remains (the limit and the one-mode rule together can leave one)
   on a short problem (at most ``MILP_MAX_PERIODS`` settlement periods), HiGHS
   branches on the exact MILP (hull rows plus a binary per period where doing both pays)
   from the best schedule, for at most ``milp_seconds``; its bound counts too. On a
   site-year the branch is skipped: measured on ten site-years with a gap, 2 s of
   branching never improved the schedule or the bound (60 s improved them by 0.03 %).
The best feasible schedule and the lowest bound are returned; their difference is the
gap (at most £0.001 when proven).

Never worse than doing nothing: the rule's schedule and no battery use (idle) are
candidates from the start; a first programme run cut short brings the relaxation LP's
bound and its schedule repaired to one mode per period. The best is returned, and
``OptimalResult.source`` says which.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from btm_ppa.core.dispatch import network, value_function
from btm_ppa.core.dispatch.greedy import greedy_schedule
from btm_ppa.core.dispatch.lp import FixedModeLp, exclusive_milp
from btm_ppa.core.dispatch.model import (
    ENERGY_TOLERANCE_MWH,
    DispatchProblem,
    FloatArray,
    Schedule,
    feasibility_problems,
    no_battery,
)
from btm_ppa.core.dispatch.network import FixedModeNetwork
from btm_ppa.core.dispatch.relaxed import (
    DEADLINE,
    IDLE,
    MEMORY_BUDGET,
    RELAXATION,
    RULE,
    SEARCH,
    fixed_mode_programme,
    hull_kernel,
    keeps_limit,
    rounded_modes,
    schedule_of,
)
from btm_ppa.core.dispatch.value_function import CHARGE_MODE, DISCHARGE_MODE

#: Bound and value closer than this prove the schedule optimal. [£]
PROFIT_TOLERANCE_GBP = 1e-3
#: Programme runs at most (the first, unpriced, included). On the 300 benchmark site-years
#: 4 keeps every one within 0.34 s and proves the same ones as 6, whose last two rounds
#: narrow some stated gaps (by about a tenth in all) at up to 0.2 s more.
MAX_ROUNDS = 4
#: Solves of one round's fixed-mode problem that may charge and discharge at once before
#: every such period is fixed together. Measured on 32 binding site-years: 3 took 4.95 s
#: in all with a total gap of £9,296; fixing one period at a time, 7.2 s and £9,065;
#: fixing all after 1 solve, 3.0 s but £13,477 and two fewer proven.
MIXED_SOLVES = 3
#: Most breakpoints the exact programme may keep for its forward pass; past them it runs
#: relaxed (see the docstring, step 1). They grow where doing both pays in most periods and
#: each moves a sliver of the capacity: a wiggle per period's worth of energy.
EXACT_POINTS = 250_000
#: Past EXACT_POINTS, the compiled programme keeps at most this many breakpoints per
#: value function (``cap_points``: never below the exact one, so still a bound).
CAPPED_BREAKPOINTS = 64
#: Longest problem the final branch-and-bound is tried on (about six weeks). [periods]
MILP_MAX_PERIODS = 2_000
#: Solve step 3's fixed-mode LPs with the compiled network simplex (``network``) where it
#: is installed, instead of HiGHS (the relaxation bound and the MILP stay on HiGHS).
#: Measured on 32 site-years where the cycle limit binds: 6.9 s in all against 33.2 s,
#: the same 15 proven; where the LP is degenerate the two pick different optimal vertices,
#: so later rounds differ (total gap £9,065 against £8,830, smaller on some sites).
USE_NETWORK_SIMPLEX = True

DeadlineExceeded = value_function.DeadlineExceeded

@dataclass(frozen=True)
class OptimalResult:
    """The optimal schedule with its certificate.

    ``value_gbp`` is the schedule's battery value, sum((cost + VLP) x discharge) -
    sum(cost x charge) (profit less what the site would pay without a battery), and
    ``bound_gbp`` an upper bound on the battery value of every feasible schedule.
    """

    schedule: Schedule
    value_gbp: float
    bound_gbp: float
    rounds: int  # dynamic programmes run
    source: str = SEARCH  # SEARCH, RULE, IDLE or RELAXATION: where the schedule came from
    cut_short: str = ""  # DEADLINE or MEMORY_BUDGET when the search stopped early

    @property
    def gap_gbp(self) -> float:
        """How far the schedule may be from the optimum (0 once proven). [£]"""
        return max(0.0, self.bound_gbp - self.value_gbp)

    @property
    def proven(self) -> bool:
        return self.gap_gbp <= PROFIT_TOLERANCE_GBP


def battery_value_gbp(problem: DispatchProblem, schedule: Schedule) -> float:
    """Profit less the profit without a battery: sum((cost + VLP) x) - sum(cost c). [£]"""
    cost = problem.import_cost_gbp_per_mwh
    return float((cost + problem.vlp_gbp_per_mwh) @ schedule.discharge_mwh
                 - cost @ schedule.charge_mwh)


def simultaneity_pays(problem: DispatchProblem) -> npt.NDArray[np.bool_]:
    """Periods where charging and discharging at once would raise profit: moving δ less
    charge and η·δ less discharge keeps the stored energy and changes profit by
    δ·((1-η)·cost - η·VLP)."""
    eff = problem.battery.round_trip_efficiency_frac
    return (1 - eff) * problem.import_cost_gbp_per_mwh < eff * problem.vlp_gbp_per_mwh


def optimal_dispatch(problem: DispatchProblem, *, deadline: float | None = None,
                     max_rounds: int = MAX_ROUNDS, milp_seconds: float = 2.0) -> OptimalResult:
    """The profit-maximising schedule with perfect foresight and its optimality
    certificate. ``deadline`` is a ``time.monotonic()`` value (checked every few hundred
    periods and inside HiGHS): past it the best feasible schedule found so far is returned
    with its gap, or DeadlineExceeded raised when there is none yet."""
    _check_finite(problem)
    b, n = problem.battery, problem.periods
    if n == 0:
        empty = np.zeros(0)
        return OptimalResult(Schedule(empty, empty, empty), 0.0, 0.0, 0)
    eff = b.round_trip_efficiency_frac
    cost = problem.import_cost_gbp_per_mwh
    limit = b.daily_discharge_limit_mwh
    stored_cap = eff * problem.charge_cap_mwh
    discharge_cap = problem.discharge_cap_mwh
    cost_per_stored = cost / eff  # the same every round; only the day prices change
    discharge_value = cost + problem.vlp_gbp_per_mwh

    # How the programme is relaxed once the exact one has passed EXACT_POINTS: "capped"
    # (compiled: at most CAPPED_BREAKPOINTS per value function, shallowest dips and corners
    # raised) or "hull" (the Python form: each period's gain by its concave envelope).
    relaxed = ""

    def programme(prices: FloatArray) -> tuple[value_function.Plan, Schedule, float]:
        nonlocal relaxed
        earns = discharge_value - prices[problem.day_index]
        priced = limit * float(prices.sum())
        if not relaxed:
            try:
                plan = value_function.solve(cost_per_stored, earns, stored_cap, discharge_cap,
                                            b.capacity_mwh, search_deadline,
                                            max_points=EXACT_POINTS)
                return plan, schedule_of(problem, plan.stored_change_mwh), plan.value_gbp + priced
            except value_function.ProgrammeTooLarge:
                relaxed = "capped" if value_function.DEFAULT_KERNEL == "compiled" else "hull"
        if relaxed == "capped":
            plan = value_function.solve(cost_per_stored, earns, stored_cap, discharge_cap,
                                        b.capacity_mwh, search_deadline,
                                        max_breakpoints=CAPPED_BREAKPOINTS)
            return plan, schedule_of(problem, plan.stored_change_mwh), plan.value_gbp + priced
        hull_a, hull_b, burn = hull_kernel(cost_per_stored, earns, stored_cap, discharge_cap)
        plan = value_function.solve(hull_a, hull_b, stored_cap, discharge_cap, b.capacity_mwh,
                                    search_deadline)
        return plan, schedule_of(problem, plan.stored_change_mwh), \
            plan.value_gbp + float(burn.sum()) + priced

    # The rule's schedule and no battery use are always feasible: the answer is never worse
    # than either, and never missing. Near the deadline the search stops early enough to
    # price a bound for what it has.
    best = _Best(problem)
    search_deadline = None if deadline is None else deadline - _bound_reserve_s(deadline)
    try:
        plan, schedule, bound = programme(np.zeros(int(problem.day_index[-1]) + 1))
    except DeadlineExceeded as exc:  # the memory budget (ProgrammeTooLarge) included
        return _without_search(problem, best, deadline, _why(exc))
    if keeps_limit(problem, schedule):
        best.offer(schedule, SEARCH)
        if relaxed != "hull":  # nu = 0 is optimal (capped: to within the bound stated)
            return best.result(bound, 1)
    pays = simultaneity_pays(problem)
    lp: FixedModeLp | FixedModeNetwork = (
        FixedModeNetwork(problem, hull=pays) if USE_NETWORK_SIMPLEX and network.AVAILABLE
        else FixedModeLp(problem, hull=pays))
    prices: FloatArray | None = None
    rounds = 1
    tried: set[bytes] = set()
    while True:
        if prices is not None:
            try:
                plan, schedule, candidate = programme(prices)
            except DeadlineExceeded as exc:
                best.cut_short = _why(exc)
                break  # out of time with a feasible schedule: return it with its gap
            rounds += 1
            bound = min(bound, candidate)
            if keeps_limit(problem, schedule):
                best.offer(schedule, SEARCH)
            if bound - best.value <= PROFIT_TOLERANCE_GBP or rounds >= max_rounds:
                break
        charge_open, discharge_open = (
            rounded_modes(plan, pays, stored_cap, discharge_cap) if relaxed == "hull"
            else _open_modes(plan, pays))
        key = charge_open.tobytes() + discharge_open.tobytes()
        if key in tried:
            break  # the programme chose modes already solved: no progress left
        tried.add(key)
        try:
            fixed = None
            if relaxed == "hull":  # one mode per period: the programme is concave and fast
                fixed = fixed_mode_programme(problem, charge_open, discharge_open,
                                             search_deadline, EXACT_POINTS)
                prices = np.zeros(int(problem.day_index[-1]) + 1)
            if fixed is None:  # the limit binds: the LP prices it
                fixed, prices = _fixed_mode_optimum(lp, pays, charge_open, discharge_open,
                                                    schedule, search_deadline)
        except DeadlineExceeded:
            best.cut_short = DEADLINE
            break  # out of time with a feasible schedule: return it with its gap
        best.offer(_net(problem, fixed), SEARCH)
        if bound - best.value <= PROFIT_TOLERANCE_GBP or not np.any(prices):
            break  # proven, or the limit is free: the next programme run would repeat this one
    if (bound - best.value > PROFIT_TOLERANCE_GBP and milp_seconds > 0
            and n <= MILP_MAX_PERIODS):
        # A duality gap the prices cannot close: branch, for a bounded time.
        seconds = milp_seconds if deadline is None else min(milp_seconds,
                                                            deadline - time.monotonic())
        found = exclusive_milp(problem, pays, best.schedule, seconds) if seconds > 0.2 else None
        if found is not None:
            schedule, _, milp_bound = found
            best.offer(_net(problem, schedule), SEARCH, trusted=False)
            bound = min(bound, milp_bound)
    return best.result(bound, rounds)


class _Best:
    """The best feasible schedule offered so far, and where it came from: the rule's and
    no battery use (worth £0) to begin with."""

    def __init__(self, problem: DispatchProblem) -> None:
        self.problem = problem
        self.schedule, self.value, self.source = no_battery(problem), 0.0, IDLE
        self.cut_short = ""
        self.offer(greedy_schedule(problem), RULE)

    def offer(self, schedule: Schedule, source: str, trusted: bool = True) -> None:
        """Keep ``schedule`` if it is worth more than the best so far (and, unless
        ``trusted`` to be feasible by construction, breaks no constraint)."""
        value = battery_value_gbp(self.problem, schedule)
        if value > self.value and (trusted or not feasibility_problems(self.problem, schedule)):
            self.schedule, self.value, self.source = schedule, value, source

    def result(self, bound_gbp: float, rounds: int) -> OptimalResult:
        return OptimalResult(self.schedule, self.value, max(bound_gbp, self.value), rounds,
                             self.source, self.cut_short)


def _why(exc: DeadlineExceeded) -> str:
    return MEMORY_BUDGET if isinstance(exc, value_function.ProgrammeTooLarge) else DEADLINE


def _without_search(problem: DispatchProblem, best: _Best, deadline: float | None,
                    cut_short: str) -> OptimalResult:
    """The answer when the first programme run did not finish: the relaxation LP's bound,
    and the best of the rule's schedule, no battery use and the relaxation's schedule
    repaired to one mode per period (its simultaneous charge and discharge netted out;
    then, if time allows, the LP re-solved with the modes that leaves open). The bound is
    infinite when even the relaxation does not finish by ``deadline``."""
    best.cut_short = cut_short
    pays = simultaneity_pays(problem)
    try:
        relaxed, _, bound = FixedModeLp(problem, hull=pays).solve(deadline=deadline)
    except DeadlineExceeded:
        return best.result(math.inf, 0)
    repaired = _net(problem, relaxed)
    best.offer(repaired, RELAXATION, trusted=False)
    charging = repaired.charge_mwh > ENERGY_TOLERANCE_MWH
    discharging = repaired.discharge_mwh > ENERGY_TOLERANCE_MWH
    idle = ~charging & ~discharging
    lp: FixedModeLp | FixedModeNetwork = (
        FixedModeNetwork(problem) if USE_NETWORK_SIMPLEX and network.AVAILABLE
        else FixedModeLp(problem, hull=pays))
    try:
        fixed, _ = _fixed_mode_optimum(lp, pays, ~pays | charging | idle,
                                       ~pays | discharging | idle, repaired, deadline)
    except DeadlineExceeded:
        return best.result(bound, 0)
    best.offer(_net(problem, fixed), RELAXATION, trusted=False)
    return best.result(bound, 0)


def _bound_reserve_s(deadline: float) -> float:
    """Seconds kept before ``deadline`` to price a bound if the search is cut short: a
    tenth of what is left, at most two."""
    return min(2.0, 0.1 * max(0.0, deadline - time.monotonic()))


def _fixed_mode_optimum(lp: FixedModeLp | FixedModeNetwork, pays: npt.NDArray[np.bool_],
                        charge_open: npt.NDArray[np.bool_], discharge_open: npt.NDArray[np.bool_],
                        start: Schedule, deadline: float | None) -> tuple[Schedule, FloatArray]:
    """The LP optimum with the given modes open; wherever it still mixes both (only
    possible where both were left open), the larger share's mode is fixed and the LP solved
    again, until it mixes nowhere. After ``MIXED_SOLVES`` solves that mixed, every period
    where doing both pays and both are still open is fixed at once to the mode it used
    (idle ones to neither), so the next solve is the last."""
    charge_open, discharge_open = charge_open.copy(), discharge_open.copy()
    mixed_solves = 0
    while True:
        lp.set_open_modes(charge_open, discharge_open)
        schedule, prices, _ = lp.solve(start=start, deadline=deadline)
        mixed = _both(schedule, pays)
        if not mixed.size:
            return schedule, prices
        mixed_solves += 1
        if mixed_solves >= MIXED_SOLVES:
            mixed = np.flatnonzero(charge_open & discharge_open & pays)
        charge_share = _share(schedule.charge_mwh[mixed], lp.charge_cap[mixed])
        discharge_share = _share(schedule.discharge_mwh[mixed], lp.discharge_cap[mixed])
        charging = (charge_share >= discharge_share) & (schedule.charge_mwh[mixed] > 0)
        charge_open[mixed] = charging
        discharge_open[mixed] = ~charging & (schedule.discharge_mwh[mixed] > 0)


def _share(energy: FloatArray, cap: FloatArray) -> FloatArray:
    """Energy as a share of its cap (0 where the cap is 0)."""
    return np.divide(energy, cap, out=np.zeros_like(energy), where=cap > 0)


def optimal_schedule(problem: DispatchProblem, *, deadline: float | None = None) -> Schedule:
    """The profit-maximising schedule (see ``optimal_dispatch`` for its certificate)."""
    return optimal_dispatch(problem, deadline=deadline).schedule


def _check_finite(problem: DispatchProblem) -> None:
    b = problem.battery
    numbers = [problem.vlp_gbp_per_mwh, b.charge_limit_mwh, b.discharge_limit_mwh,
               b.capacity_mwh, b.daily_discharge_limit_mwh, b.round_trip_efficiency_frac]
    if not (np.isfinite(problem.import_cost_gbp_per_mwh).all()
            and np.isfinite(problem.demand_mwh).all() and np.isfinite(numbers).all()):
        raise ValueError("import costs, demand, VLP and battery figures must be finite numbers")
    if not 0 < b.round_trip_efficiency_frac <= 1:
        raise ValueError("round-trip efficiency must be in (0, 1]")


def _open_modes(plan: value_function.Plan, pays: npt.NDArray[np.bool_]
                ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Where doing both would pay, only the mode the programme used; both where it stayed
    idle (the LP's hull rows keep those inside the two modes' convex hull) or where doing
    both would not pay."""
    u = plan.stored_change_mwh
    charging = (u > ENERGY_TOLERANCE_MWH) | ((plan.mode == CHARGE_MODE) & (u >= 0))
    discharging = (u < -ENERGY_TOLERANCE_MWH) | ((plan.mode == DISCHARGE_MODE) & (u <= 0))
    idle = ~charging & ~discharging
    return ~pays | charging | idle, ~pays | discharging | idle


def _both(schedule: Schedule, where: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    return np.flatnonzero((schedule.charge_mwh > ENERGY_TOLERANCE_MWH)
                          & (schedule.discharge_mwh > ENERGY_TOLERANCE_MWH) & where)


def _net(problem: DispatchProblem, schedule: Schedule) -> Schedule:
    """Net out simultaneous charge and discharge (the stored energy path is unchanged);
    only where that loses nothing does an LP solution do both."""
    eff = problem.battery.round_trip_efficiency_frac
    ch, x = schedule.charge_mwh.copy(), schedule.discharge_mwh.copy()
    both = (ch > 0) & (x > 0)
    move = np.minimum(ch[both], x[both] / eff)
    ch[both] -= move
    x[both] -= eff * move
    ch[ch < ENERGY_TOLERANCE_MWH * 1e-3] = 0.0
    x[x < ENERGY_TOLERANCE_MWH * 1e-3] = 0.0
    return Schedule(ch, x, np.cumsum(eff * ch - x))

