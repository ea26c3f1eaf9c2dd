"""The exact optimum of the dispatch problem (see ``model``): the relaxation without the
"not both in one period" rule as a minimum-cost circulation solved by the network
simplex, HiGHS repair windows where doing both pays, and the HiGHS LP/MILP fallback."""

from __future__ import annotations

import highspy
import numpy as np
import numpy.typing as npt

from btm_ppa.core.dispatch import network_simplex
from btm_ppa.core.dispatch.greedy import greedy_schedule
from btm_ppa.core.dispatch.model import (
    ENERGY_TOLERANCE_MWH,
    DispatchProblem,
    FloatArray,
    Schedule,
    feasibility_problems,
)
from btm_ppa.core.dispatch.network_simplex import OPTIMAL, solve_circulation


class _DispatchLp:
    """The dispatch LP in one HiGHS instance.

    Columns: charge (T), discharge (T), soc (T), then optionally ``soc_in`` (the stored
    energy before the first period, when it is priced rather than zero), then any
    exclusivity binaries. Rows: state of charge balance (T), daily discharge (one per
    settlement day), and in the periods listed in ``hull`` the convex hull of "charge
    only or discharge only", ``charge/charge_limit + discharge/cap <= 1``, which every
    exclusive schedule meets and which tightens the relaxation where doing both pays.

    ``soc_in_price`` and ``soc_out_price`` (£/MWh) make the model a window of a longer
    horizon: energy at the start is bought at ``soc_in_price`` and energy left at the end
    is worth ``soc_out_price`` (by default the battery starts empty and leftover energy is
    worth nothing).
    """

    def __init__(self, problem: DispatchProblem, hull: npt.NDArray[np.bool_] | None = None,
                 soc_in_price: float | None = None, soc_out_price: float = 0.0) -> None:
        b = problem.battery
        n, eff = problem.periods, b.round_trip_efficiency_frac
        cost = problem.import_cost_gbp_per_mwh
        self.problem = problem
        self.dcap = problem.discharge_cap_mwh
        self.has_soc_in = soc_in_price is not None
        days = int(problem.day_index[-1]) + 1
        t = np.arange(n)
        ch, x, s = 0, n, 2 * n
        extra = 1 if self.has_soc_in else 0
        # Balance: soc[t] - soc[t-1] - eff*ch[t] + x[t] = 0 (soc[-1] = soc_in or 0).
        # Daily: sum(x) <= cycles * capacity.
        rows = [t, t, t, t[1:], n + problem.day_index]
        cols = [s + t, ch + t, x + t, s + t[:-1], x + t]
        vals = [np.ones(n), np.full(n, -eff), np.ones(n), -np.ones(n - 1), np.ones(n)]
        if self.has_soc_in:
            rows.append(np.array([0]))
            cols.append(np.array([3 * n]))
            vals.append(np.array([-1.0]))
        h = np.flatnonzero(hull) if hull is not None else np.array([], dtype=np.int64)
        h = h[self.dcap[h] > 0]
        k = len(h)
        if k:
            j = n + days + np.arange(k)
            rows += [j, j]
            cols += [ch + h, x + h]
            vals += [np.full(k, 1 / b.charge_limit_mwh), 1 / self.dcap[h]]
        r, c, v = (np.concatenate(a) for a in (rows, cols, vals))
        order = np.lexsort((r, c))
        num_col = 3 * n + extra
        col_cost = np.concatenate([cost, -(cost + problem.vlp_gbp_per_mwh), np.zeros(n),
                                   np.full(extra, soc_in_price or 0.0)])
        col_cost[s + n - 1] = -soc_out_price
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = num_col, n + days + k
        lp.col_cost_ = col_cost
        lp.col_lower_ = np.zeros(num_col)
        lp.col_upper_ = np.concatenate([np.full(n, b.charge_limit_mwh), self.dcap,
                                        np.full(n + extra, b.capacity_mwh)])
        lp.row_lower_ = np.concatenate([np.zeros(n), np.full(days + k, -highspy.kHighsInf)])
        lp.row_upper_ = np.concatenate([np.zeros(n), np.full(days, b.daily_discharge_limit_mwh),
                                        np.ones(k)])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.searchsorted(c[order], np.arange(num_col + 1)).astype(np.int32)
        lp.a_matrix_.index_ = r[order].astype(np.int32)
        lp.a_matrix_.value_ = v[order]
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        # Presolve finds little to remove in this LP and costs a tenth of the solve.
        self.highs.setOptionValue("presolve", "off")
        # Devex pricing: measured a quarter faster than the default on a site-year.
        self.highs.setOptionValue("simplex_dual_edge_weight_strategy", 1)
        self.highs.passModel(lp)
        self.binary_periods = np.array([], dtype=np.int64)
        self.soc_in_mwh = 0.0

    def fix_boundary(self, soc_in_mwh: float | None, soc_out_mwh: float) -> None:
        """Pin the window's starting and final stored energy. [MWh]"""
        n = self.problem.periods
        if self.has_soc_in and soc_in_mwh is not None:
            self.highs.changeColBounds(3 * n, soc_in_mwh, soc_in_mwh)
        self.highs.changeColBounds(3 * n - 1, soc_out_mwh, soc_out_mwh)

    def add_exclusivity(self, periods: npt.NDArray[np.int64], start: Schedule,
                        start_soc_in_mwh: float = 0.0) -> None:
        """Make the model a MILP with a charge/discharge binary in each of ``periods``
        (``charge <= limit * z``, ``discharge <= cap * (1 - z)``), starting the search
        from the feasible schedule ``start``."""
        h, n = self.highs, self.problem.periods
        new = np.setdiff1d(periods, self.binary_periods)
        if new.size == 0:
            return
        cmax = self.problem.battery.charge_limit_mwh
        first = h.getNumCol()
        k = len(new)
        h.addVars(k, np.zeros(k), np.ones(k))
        h.changeColsIntegrality(k, np.arange(first, first + k, dtype=np.int32),
                                np.full(k, highspy.HighsVarType.kInteger))
        for j, t in enumerate(new):
            z = np.int32(first + j)
            h.addRow(-highspy.kHighsInf, 0.0, 2, np.array([t, z], dtype=np.int32),
                     np.array([1.0, -cmax]))
            cap = float(self.dcap[t])
            h.addRow(-highspy.kHighsInf, cap, 2, np.array([n + t, z], dtype=np.int32),
                     np.array([1.0, cap]))
        self.binary_periods = np.concatenate([self.binary_periods, new])
        h.setOptionValue("presolve", "choose")  # branch and cut does need it
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", PROFIT_TOLERANCE_GBP)
        z_start = (start.charge_mwh[self.binary_periods] > 0).astype(np.float64)
        incumbent = highspy.HighsSolution()
        incumbent.col_value = list(np.concatenate(
            [start.charge_mwh, start.discharge_mwh,
             np.clip(start.soc_mwh, 0, self.problem.battery.capacity_mwh),
             [start_soc_in_mwh] if self.has_soc_in else [], z_start]))
        h.setSolution(incumbent)

    def start_from(self, schedule: Schedule) -> None:
        """Start the simplex from a feasible schedule's values (a crash basis near it)."""
        start = highspy.HighsSolution()
        start.col_value = list(np.concatenate([
            schedule.charge_mwh, schedule.discharge_mwh,
            np.clip(schedule.soc_mwh, 0, self.problem.battery.capacity_mwh),
            [0.0] if self.has_soc_in else []]))
        start.value_valid = True
        self.highs.setSolution(start)

    def solve(self) -> Schedule:
        self.highs.run()
        status = self.highs.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(
                f"HiGHS did not find the optimum: {self.highs.modelStatusToString(status)}")
        n, eff = self.problem.periods, self.problem.battery.round_trip_efficiency_frac
        col = np.asarray(self.highs.getSolution().col_value)
        charge = np.clip(col[:n], 0, None)
        discharge = np.clip(col[n:2 * n], 0, None)
        self.soc_in_mwh = float(col[3 * n]) if self.has_soc_in else 0.0
        return Schedule(charge, discharge,
                        self.soc_in_mwh + np.cumsum(eff * charge - discharge))

    @property
    def objective_gbp(self) -> float:
        """The last solve's objective, as a profit (the model minimises its negative)."""
        return -float(self.highs.getInfo().objective_function_value)

    def stored_energy_value(self) -> npt.NDArray[np.float64]:
        """Marginal value of stored energy in each period (minus the balance rows' duals)
        from the last LP solve. [£/MWh]"""
        return -np.asarray(self.highs.getSolution().row_dual[: self.problem.periods])


def simultaneity_pays(problem: DispatchProblem) -> npt.NDArray[np.bool_]:
    """Periods where charging and discharging at once would raise profit in the LP.

    Moving δ less charge and η·δ less discharge in period t leaves the state of charge
    unchanged and changes profit by δ·((1-η)·cost[t] - η·VLP). Where that is >= 0 an
    optimal LP solution can always be netted to one that does not do both, so only the
    other periods need to be branched on.
    """
    eff = problem.battery.round_trip_efficiency_frac
    return (1 - eff) * problem.import_cost_gbp_per_mwh < eff * problem.vlp_gbp_per_mwh


def _both(schedule: Schedule, where: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    return np.flatnonzero((schedule.charge_mwh > ENERGY_TOLERANCE_MWH)
                          & (schedule.discharge_mwh > ENERGY_TOLERANCE_MWH) & where)


#: Absolute optimality gap the MILP must close. [£]
PROFIT_TOLERANCE_GBP = 1e-3


def optimal_schedule(problem: DispatchProblem, max_rounds: int = 50) -> Schedule:
    """The profit-maximising schedule with perfect foresight, exactly (to £0.001).

    1. Solve the LP relaxation (charging and discharging allowed in one period) as a
       minimum-cost flow with the network simplex (``_network_relaxation``). If its
       optimum never does both where that pays, netting the rest loses nothing, so it is
       optimal for the exact problem: the usual case.
    2. Otherwise repair the few days that do both, each as a small MILP over a window of
       days around them, with the stored energy at the window's edges priced at the
       LP's marginal value of stored energy (a Lagrangian relaxation of the edges). If
       the repaired window's optimum keeps the LP's edge states, the Lagrangian bound is
       met by a feasible schedule, which is therefore optimal (see ``_repair_windows``).
    3. Failing that (or if the network simplex ran out of pivots), HiGHS solves the LP
       tightened by convex-hull rows where doing both could pay, repairs windows the same
       way, and as a last resort solves the whole horizon as a MILP with binaries added
       lazily where periods do both, until none does: each round optimises a relaxation
       of the exact problem, so the first schedule feasible for it is optimal.
    """
    pays = simultaneity_pays(problem)
    relaxed = _network_relaxation(problem)
    if relaxed is not None:
        exact = _exclusive_from_relaxation(problem, *relaxed, pays)
        if exact is not None:
            return exact
    model = _DispatchLp(problem, hull=pays)
    model.start_from(greedy_schedule(problem))  # a feasible start: fewer simplex iterations
    schedule = model.solve()
    exact = _exclusive_from_relaxation(problem, schedule, model.stored_energy_value(), pays)
    if exact is not None:
        return exact
    for _ in range(max_rounds):
        both = _both(schedule, pays)
        both = both[~np.isin(both, model.binary_periods)]
        if both.size == 0:
            return _net(problem, schedule)
        days = np.unique(problem.day_index[both])
        near = pays & np.isin(problem.day_index, np.concatenate([days - 1, days, days + 1]))
        model.add_exclusivity(np.flatnonzero(near), _net(problem, schedule))
        schedule = model.solve()
    raise RuntimeError(f"dispatch needed more than {max_rounds} rounds of binaries")


def _exclusive_from_relaxation(problem: DispatchProblem, relaxed: Schedule, value: FloatArray,
                               pays: npt.NDArray[np.bool_]) -> Schedule | None:
    """The exact optimum from an LP optimum and its stored-energy values λ (£/MWh): netted
    if it never does both where that pays, else window-repaired; None if repair fails."""
    both = _both(relaxed, pays)
    if both.size == 0:
        return _net(problem, relaxed)
    return _repair_windows(problem, value, relaxed, pays, both)


#: Integer units the network simplex counts in, at most (per MWh, and per £ per MWh).
#: Rounding the data to them moves the optimum by far less than £0.001 over a year.
_ENERGY_UNITS_PER_MWH = 1e12
_COST_UNITS_PER_GBP_PER_MWH = 1e8
#: Largest integer the network simplex's arithmetic is allowed to reach (int64 < 9.2e18).
_INT_BUDGET = 1e18


def _network_relaxation(problem: DispatchProblem) -> tuple[Schedule, FloatArray] | None:
    """The LP relaxation solved as a minimum-cost circulation, with the marginal value of
    stored energy in each period (£/MWh), or None if the pivot budget ran out.

    Flow is stored energy. Nodes: one per period, one hub per settlement day, a root.
    Arcs: root -> t charging (capacity efficiency x charge limit, cost import cost /
    efficiency per MWh stored, since losses are taken on charging); t -> hub discharging
    (capacity min(discharge limit, demand), cost -(import cost + VLP)); t -> t+1 energy
    kept (capacity = battery capacity; the last period's arc goes to the root: energy
    left at the end is worth nothing); hub -> root (capacity = cycles per day x
    capacity). A circulation is a schedule and its cost is minus the battery's value, so
    the least-cost circulation is the LP optimum; a node's potential is the value of one
    more MWh stored in that period. Returns None where the compiled solver is not built.
    """
    if not network_simplex.AVAILABLE:
        return None
    b, n = problem.battery, problem.periods
    eff = b.round_trip_efficiency_frac
    cost = problem.import_cost_gbp_per_mwh
    days = int(problem.day_index[-1]) + 1
    root = n + days
    t = np.arange(n)
    tail = np.concatenate([np.full(n, root), t, t, n + np.arange(days)])
    head = np.concatenate([t, n + problem.day_index, np.append(t[1:], root), np.full(days, root)])
    cap_mwh = np.concatenate([np.full(n, eff * b.charge_limit_mwh), problem.discharge_cap_mwh,
                              np.full(n, b.capacity_mwh), np.full(days, b.daily_discharge_limit_mwh)])
    cost_gbp = np.concatenate([cost / eff, -(cost + problem.vlp_gbp_per_mwh), np.zeros(n + days)])
    if not (np.isfinite(cost_gbp).all() and np.isfinite(cap_mwh).all()):
        raise ValueError("import costs, VLP and battery limits must be finite numbers")
    # Potentials are sums of costs along tree paths, so keep (nodes x largest cost) and
    # the largest capacity inside int64.
    energy_scale = min(_ENERGY_UNITS_PER_MWH, _INT_BUDGET / max(cap_mwh.max(), 1.0))
    cost_scale = min(_COST_UNITS_PER_GBP_PER_MWH,
                     _INT_BUDGET / ((root + 1) * max(np.abs(cost_gbp).max(), 1.0)))
    capacity = np.round(cap_mwh * energy_scale).astype(np.int64)
    unit_cost = np.round(cost_gbp * cost_scale).astype(np.int64)
    # Starting tree, all flows zero: each period hangs off its day's hub by its discharge
    # arc, or off the next period when it cannot discharge (no demand); hubs off the root.
    can_discharge = capacity[n:2 * n] > 0
    parent = np.empty(root + 1, dtype=np.int64)
    parent_arc = np.empty(root + 1, dtype=np.int64)
    parent[:n] = np.where(can_discharge, n + problem.day_index, np.append(t[1:], root))
    parent_arc[:n] = np.where(can_discharge, n + t, 2 * n + t)
    parent[n:root], parent_arc[n:root] = root, 3 * n + np.arange(days)
    parent[root], parent_arc[root] = -1, -1
    result = solve_circulation(tail, head, capacity, unit_cost, parent, parent_arc,
                               max_pivots=50 * len(tail))
    if result.status != OPTIMAL:
        return None
    stored = result.flow[:n] / energy_scale
    discharge = result.flow[n:2 * n] / energy_scale
    schedule = Schedule(stored / eff, discharge, np.cumsum(stored - discharge))
    return schedule, result.potential[:n] / cost_scale


def _window(problem: DispatchProblem, lo: int, hi: int) -> DispatchProblem:
    """Periods lo..hi-1 as a problem of their own (days renumbered from 0)."""
    days = problem.day_index[lo:hi]
    return DispatchProblem(problem.demand_mwh[lo:hi], problem.import_cost_gbp_per_mwh[lo:hi],
                           problem.band_code[lo:hi], days - days[0], problem.vlp_gbp_per_mwh,
                           problem.battery)


def _repair_windows(problem: DispatchProblem, value: FloatArray, relaxed: Schedule,
                    pays: npt.NDArray[np.bool_], both: npt.NDArray[np.int64],
                    pad_days: int = 1) -> Schedule | None:
    """Make the LP optimum exclusive window by window, with a certificate, or give up.

    Why this is exact when it succeeds: dualise the state-of-charge balance at each
    window's two edges with the LP's own duals λ. The Lagrangian L(λ) bounds the exact
    optimum from above. Outside the windows the LP optimum already does not do both, and
    by LP optimality it also maximises the outside part of L(λ), so that part equals its
    exact value there. Inside a window the part is a small MILP whose edge energy is
    bought and sold at λ. If each window's MILP optimum is matched by a schedule that
    keeps the LP's edge states (the free optimum itself, or failing that one solved
    again with the edges pinned and found worth the same), the pieces join into a
    feasible schedule worth L(λ): optimal. Otherwise return None.

    ``value`` is λ: the LP's optimal marginal value of stored energy in each period
    (£/MWh), from the network simplex's potentials or HiGHS's duals.
    """
    n = problem.periods
    day_start = np.searchsorted(problem.day_index, np.arange(problem.day_index[-1] + 2))
    windows: list[tuple[int, int]] = []
    for day in np.unique(problem.day_index[both]):
        lo_day = max(int(day) - pad_days, 0)
        hi_day = min(int(day) + pad_days + 1, int(problem.day_index[-1]) + 1)
        lo, hi = int(day_start[lo_day]), int(day_start[hi_day])
        if windows and lo <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(hi, windows[-1][1]))
        else:
            windows.append((lo, hi))
    charge, discharge = relaxed.charge_mwh.copy(), relaxed.discharge_mwh.copy()
    eff = problem.battery.round_trip_efficiency_frac
    for lo, hi in windows:
        sub = _window(problem, lo, hi)
        soc_in = float(relaxed.soc_mwh[lo - 1]) if lo else None
        soc_out = float(relaxed.soc_mwh[hi - 1])
        price_in = float(value[lo]) if lo else None
        price_out = float(value[hi - 1]) if hi < n else 0.0
        start = _net(sub, Schedule(relaxed.charge_mwh[lo:hi], relaxed.discharge_mwh[lo:hi],
                                   relaxed.soc_mwh[lo:hi] - (soc_in or 0.0)), soc_in or 0.0)
        sub_pays = simultaneity_pays(sub)
        free = _DispatchLp(sub, hull=sub_pays, soc_in_price=price_in, soc_out_price=price_out)
        free.add_exclusivity(np.flatnonzero(sub_pays), start, soc_in or 0.0)
        # A window is a few days: presolve and restarts cost it more than they save
        # (measured on 2023's slowest areas: 0.15-0.25 s per window with, 0.05-0.11 without).
        free.highs.setOptionValue("presolve", "off")
        free.highs.setOptionValue("mip_allow_restart", False)
        fixed = free.solve()
        if not _keeps_edges(free, fixed, soc_in, soc_out):
            # Another optimum may keep them: solve again with the edges pinned.
            bound = free.objective_gbp
            free.fix_boundary(soc_in, soc_out)
            fixed = free.solve()
            if free.objective_gbp < bound - PROFIT_TOLERANCE_GBP:
                return None
        charge[lo:hi], discharge[lo:hi] = fixed.charge_mwh, fixed.discharge_mwh
    schedule = _net(problem, Schedule(charge, discharge, np.cumsum(eff * charge - discharge)))
    if _both(schedule, pays).size or feasibility_problems(problem, schedule):
        return None
    return schedule


def _keeps_edges(model: _DispatchLp, window: Schedule, soc_in_mwh: float | None,
                 soc_out_mwh: float) -> bool:
    """Whether a window's solution starts and ends with the given stored energy. [MWh]"""
    start_ok = soc_in_mwh is None or abs(model.soc_in_mwh - soc_in_mwh) <= ENERGY_TOLERANCE_MWH
    return start_ok and abs(float(window.soc_mwh[-1]) - soc_out_mwh) <= ENERGY_TOLERANCE_MWH


def _battery_value(problem: DispatchProblem, schedule: Schedule) -> float:
    """Profit less the constant PPA revenue: sum((cost + VLP) x) - sum(cost c). [£]"""
    cost = problem.import_cost_gbp_per_mwh
    return float((cost + problem.vlp_gbp_per_mwh) @ schedule.discharge_mwh
                 - cost @ schedule.charge_mwh)


def _net(problem: DispatchProblem, schedule: Schedule, soc_in_mwh: float = 0.0) -> Schedule:
    """Net out simultaneous charge and discharge (the stored energy path is unchanged)."""
    eff = problem.battery.round_trip_efficiency_frac
    ch, x = schedule.charge_mwh.copy(), schedule.discharge_mwh.copy()
    both = (ch > ENERGY_TOLERANCE_MWH) & (x > ENERGY_TOLERANCE_MWH)
    move = np.minimum(ch[both], x[both] / eff)
    ch[both] -= move
    x[both] -= eff * move
    ch[ch < ENERGY_TOLERANCE_MWH] = 0.0
    x[x < ENERGY_TOLERANCE_MWH] = 0.0
    return Schedule(ch, x, soc_in_mwh + np.cumsum(eff * ch - x))
