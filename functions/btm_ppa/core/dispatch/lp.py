"""The dispatch LP with each period's open modes fixed, in HiGHS: where only one of
charging and discharging is open the LP is exact, so it gives the best schedule for a
choice of modes, with the cycle limit exact, and the daily cycle limit's prices (duals).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from collections.abc import Iterator

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
    """A HiGHS instance that never prints (no banner, no log)."""
    with _stdout_silenced():
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("log_to_console", False)
    highs.HandleKeyboardInterrupt = True  # Ctrl-C cancels a solve in progress
    return highs


class FixedModeLp:
    """Columns: charge (T), discharge (T), stored energy (T). Rows: stored-energy balance
    (T), daily discharge (one per settlement day). Maximises battery value
    sum((cost + VLP) x) - sum(cost c) (HiGHS minimises its negative)."""

    def __init__(self, problem: DispatchProblem) -> None:
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
        rows = np.concatenate([t, t, t, t[1:], n + problem.day_index])
        cols = np.concatenate([s + t, ch + t, x + t, s + t[:-1], x + t])
        vals = np.concatenate([np.ones(n), np.full(n, -eff), np.ones(n), -np.ones(n - 1),
                               np.ones(n)])
        order = np.lexsort((rows, cols))
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = 3 * n, n + self.days
        lp.col_cost_ = np.concatenate([cost, -(cost + problem.vlp_gbp_per_mwh), np.zeros(n)])
        lp.col_lower_ = np.zeros(3 * n)
        lp.col_upper_ = np.concatenate([self.charge_cap, self.discharge_cap,
                                        np.full(n, b.capacity_mwh)])
        lp.row_lower_ = np.concatenate([np.zeros(n), np.full(self.days, -highspy.kHighsInf)])
        lp.row_upper_ = np.concatenate([np.zeros(n), np.full(self.days, b.daily_discharge_limit_mwh)])
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
              deadline: float | None = None) -> tuple[Schedule, FloatArray]:
        """The optimum for the open modes and the daily cycle limit's prices (£/MWh >= 0)."""
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
        self.highs.solve()
        status = self.highs.getModelStatus()
        if status == highspy.HighsModelStatus.kTimeLimit:
            raise DeadlineExceeded
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"HiGHS: {self.highs.modelStatusToString(status)}")
        solution = self.highs.getSolution()
        col = np.asarray(solution.col_value)
        charge = np.clip(col[:n], 0, None)
        discharge = np.clip(col[n:2 * n], 0, None)
        prices = np.maximum(0.0, -np.asarray(solution.row_dual[n:]))
        return Schedule(charge, discharge, np.cumsum(eff * charge - discharge)), prices
