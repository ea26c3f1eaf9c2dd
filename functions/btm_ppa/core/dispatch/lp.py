"""The dispatch LP with each period's open modes fixed, in HiGHS: where only one of
charging and discharging is open the LP is exact, so it gives the best schedule for a
choice of modes, with the cycle limit exact, and the daily cycle limit's prices (duals).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import highspy
import numpy as np
import numpy.typing as npt

from btm_ppa.core.dispatch.model import DispatchProblem, FloatArray, Schedule
from btm_ppa.core.dispatch.value_function import DeadlineExceeded


@contextmanager
def _stdout_silenced() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null: HiGHS prints its banner from C++ when an
    instance is constructed, before any option can be set."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no usable stdout at all: nothing to protect
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def quiet_highs() -> highspy.Highs:
    """A HiGHS instance that never prints (no banner, no log). Solve it with
    ``interruptible_solve`` so that Ctrl-C cancels the solve."""
    with _stdout_silenced():
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("log_to_console", False)
    return highs


def interruptible_solve(highs: highspy.Highs) -> None:
    """``highs.solve()`` with Ctrl-C cancelling it (the model status then says so; see
    ``_raise_if_interrupted``). highspy's handler subscribes bound methods of the instance
    to its own callbacks: a reference cycle that keeps the whole model (hundreds of MB on
    a hard site-year) alive until the garbage collector happens to run. It is switched on
    for the solve only, so the instance is freed as soon as its last reference goes."""
    highs.HandleKeyboardInterrupt = True
    try:
        highs.solve()
    finally:
        if highs.is_solver_running():  # Ctrl-C between the solver thread's start and join
            highs.cancelSolve()
            highs.wait()
        highs.HandleKeyboardInterrupt = False


def _raise_if_interrupted(status: highspy.HighsModelStatus) -> None:
    """Ctrl-C during a solve: HiGHS stops and says so; it goes on as KeyboardInterrupt,
    as it would have anywhere else."""
    if status in (highspy.HighsModelStatus.kInterrupt,
                  getattr(highspy.HighsModelStatus, "kHighsInterrupt",
                          highspy.HighsModelStatus.kInterrupt)):
        raise KeyboardInterrupt


class FixedModeLp:
    """Columns: charge (T), discharge (T), stored energy (T). Rows: stored-energy balance
    (T), daily discharge (one per settlement day), and in the ``hull`` periods the convex
    hull of "charge only or discharge only", charge/charge cap + discharge/discharge cap
    <= 1, which every exclusive schedule meets. Maximises battery value
    sum((cost + VLP) x) - sum(cost c) (HiGHS minimises its negative). With every mode
    open it is a relaxation of the exact problem: its optimum bounds every schedule's
    value, and is optimal itself when it does not charge and discharge at once where that
    would pay."""

    def __init__(self, problem: DispatchProblem, hull: npt.NDArray[np.bool_]) -> None:
        b = problem.battery
        n, eff = problem.periods, b.round_trip_efficiency_frac
        cost = problem.import_cost_gbp_per_mwh
        self.problem = problem
        self.days = int(problem.day_index[-1]) + 1
        self.charge_cap = problem.charge_cap_mwh
        self.discharge_cap = problem.discharge_cap_mwh
        t = np.arange(n)
        ch, x, s = 0, n, 2 * n
        # soc[t] - soc[t-1] - eff ch[t] + x[t] = 0; sum over the day of x <= cycles x capacity.
        h = np.flatnonzero(hull & (self.charge_cap > 0) & (self.discharge_cap > 0))
        k = len(h)
        j = n + self.days + np.arange(k)
        rows = np.concatenate([t, t, t, t[1:], n + problem.day_index, j, j])
        cols = np.concatenate([s + t, ch + t, x + t, s + t[:-1], x + t, ch + h, x + h])
        vals = np.concatenate([np.ones(n), np.full(n, -eff), np.ones(n), -np.ones(n - 1),
                               np.ones(n), 1 / self.charge_cap[h], 1 / self.discharge_cap[h]])
        order = np.lexsort((rows, cols))
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = 3 * n, n + self.days + k
        lp.col_cost_ = np.concatenate([cost, -(cost + problem.vlp_gbp_per_mwh), np.zeros(n)])
        lp.col_lower_ = np.zeros(3 * n)
        lp.col_upper_ = np.concatenate([self.charge_cap, self.discharge_cap,
                                        np.full(n, b.capacity_mwh)])
        lp.row_lower_ = np.concatenate([np.zeros(n), np.full(self.days + k, -highspy.kHighsInf)])
        lp.row_upper_ = np.concatenate([np.zeros(n), np.full(self.days, b.daily_discharge_limit_mwh),
                                        np.ones(k)])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.searchsorted(cols[order], np.arange(3 * n + 1)).astype(np.int32)
        lp.a_matrix_.index_ = rows[order].astype(np.int32)
        lp.a_matrix_.value_ = vals[order]
        self.highs = quiet_highs()
        self.highs.setOptionValue("presolve", "off")  # little to remove; costs a tenth
        self.highs.passModel(lp)
        self._index = np.arange(2 * n, dtype=np.int32)

    def set_open_modes(self, charge_open: npt.NDArray[np.bool_],
                       discharge_open: npt.NDArray[np.bool_]) -> None:
        """Close charging or discharging per period (the basis is kept: a warm restart)."""
        upper = np.concatenate([np.where(charge_open, self.charge_cap, 0.0),
                                np.where(discharge_open, self.discharge_cap, 0.0)])
        self.highs.changeColsBounds(len(self._index), self._index, np.zeros(len(self._index)),
                                    upper)

    def solve(self, start: Schedule | None = None,
              deadline: float | None = None) -> tuple[Schedule, FloatArray, float]:
        """The optimum for the open modes, the daily cycle limit's prices (£/MWh >= 0) and
        the optimal battery value (£)."""
        n, eff = self.problem.periods, self.problem.battery.round_trip_efficiency_frac
        if start is not None and self.highs.getInfo().simplex_iteration_count == 0:
            guess = highspy.HighsSolution()
            guess.col_value = list(np.concatenate([start.charge_mwh, start.discharge_mwh,
                                                   np.clip(start.soc_mwh, 0, None)]))
            guess.value_valid = True
            self.highs.setSolution(guess)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeadlineExceeded
            self.highs.setOptionValue("time_limit", left)
        interruptible_solve(self.highs)
        status = self.highs.getModelStatus()
        _raise_if_interrupted(status)
        if status == highspy.HighsModelStatus.kTimeLimit:
            raise DeadlineExceeded
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"HiGHS: {self.highs.modelStatusToString(status)}")
        solution = self.highs.getSolution()
        col = np.asarray(solution.col_value)
        charge = np.clip(col[:n], 0, None)
        discharge = np.clip(col[n:2 * n], 0, None)
        prices = np.maximum(0.0, -np.asarray(solution.row_dual[n:n + self.days]))
        value = -float(self.highs.getInfo().objective_function_value)
        return Schedule(charge, discharge, np.cumsum(eff * charge - discharge)), prices, value


def exclusive_milp(problem: DispatchProblem, pays: npt.NDArray[np.bool_], start: Schedule,
                   seconds: float) -> tuple[Schedule, float, float] | None:
    """The exact problem as a MILP (the hull LP plus a charge-or-discharge binary in every
    period where doing both would pay), started from the feasible schedule ``start`` and
    stopped after ``seconds``: the best schedule found, its battery value and HiGHS's
    bound on the optimum (£); None if it found nothing in time."""
    model = FixedModeLp(problem, hull=pays)
    highs, n = model.highs, problem.periods
    where = np.flatnonzero(pays)
    k = len(where)
    if k:
        first = highs.getNumCol()
        highs.addVars(k, np.zeros(k), np.ones(k))
        binaries = np.arange(first, first + k, dtype=np.int32)
        highs.changeColsIntegrality(k, binaries, np.full(k, highspy.HighsVarType.kInteger))
        # c_t - C_t z <= 0 and x_t + X_t z <= X_t, two rows per binary, added at once.
        cols = np.empty(4 * k, dtype=np.int32)
        cols[0::4], cols[1::4] = where, binaries
        cols[2::4], cols[3::4] = n + where, binaries
        vals = np.empty(4 * k)
        vals[0::4], vals[1::4] = 1.0, -model.charge_cap[where]
        vals[2::4], vals[3::4] = 1.0, model.discharge_cap[where]
        upper = np.zeros(2 * k)
        upper[1::2] = model.discharge_cap[where]
        highs.addRows(2 * k, np.full(2 * k, -highspy.kHighsInf), upper, 4 * k,
                      np.arange(0, 4 * k, 2, dtype=np.int32), cols, vals)
    highs.setOptionValue("presolve", "choose")
    highs.setOptionValue("mip_rel_gap", 0.0)
    highs.setOptionValue("mip_abs_gap", 1e-4)
    highs.setOptionValue("time_limit", max(seconds, 0.01))
    incumbent = highspy.HighsSolution()
    incumbent.col_value = list(np.concatenate([
        start.charge_mwh, start.discharge_mwh, np.clip(start.soc_mwh, 0, None),
        (start.charge_mwh[where] > 0).astype(np.float64)]))
    highs.setSolution(incumbent)
    interruptible_solve(highs)
    _raise_if_interrupted(highs.getModelStatus())
    info = highs.getInfo()
    if info.primal_solution_status != 2:  # kSolutionStatusFeasible
        return None
    eff = problem.battery.round_trip_efficiency_frac
    col = np.asarray(highs.getSolution().col_value)
    charge = np.clip(col[:n], 0, None)
    discharge = np.clip(col[n:2 * n], 0, None)
    bound = -float(info.mip_dual_bound)
    return (Schedule(charge, discharge, np.cumsum(eff * charge - discharge)),
            -float(info.objective_function_value), bound)
