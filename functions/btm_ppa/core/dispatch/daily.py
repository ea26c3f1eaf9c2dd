"""Non-anticipative dispatch: one plan a day, each committing its own day only.

Each settlement day D is planned at a decision time before it (11:00 on D-1 for the
forecasts of ``core.forecast``: which prices were published by then is the forecast's
business) over a horizon of D and D+1, by the exact optimiser (``optimal_dispatch``) on
the forecast import costs and demand, from the true state of charge at the start of D,
with the energy left at the horizon's end valued by a stated rule (``TerminalValue``).
Only day D is committed: its planned charge and discharge are carried out, cut back to
what the true demand, the site import limit and the battery allow where the demand
forecast was wrong, and the true state of charge is carried to D+1's plan. The schedule
is settled at outturn import costs by whoever values it (``schedule_value``). With the
true costs as the forecast this is the daily perfect-foresight arm: the same decision
structure, no forecast error.

Wear: a throughput cost w per MWh discharged is in every plan's objective (discharging
earns import cost + VLP - w): it is folded into the VLP the optimiser sees, a uniform
shift of the discharge value.

Two exact transformations let the optimiser, which starts empty and values what is left
at nothing, plan from a state of charge s0 and value the end:

- the end: since s_end = s0 + sum(eff c - x), valuing s_end at V per MWh stored adds
  V eff per MWh charged and takes V per MWh discharged; the plan sees import cost - eff V
  and VLP - w - (1 - eff) V (uniform shifts, so the simultaneity condition is unchanged);
- the start: leading periods that can only charge, capped in all at s0 / eff and priced
  so far below every other cost that the optimum fills them (the value function's slopes
  are among the periods' costs, so any price beyond them does it).

Speed: most days the programme alone is exact (the cycle limit does not bind with the
day prices at 0, as ``optimal_dispatch``'s first step): those plans call the compiled
programme directly on the horizon's ~96 periods, with no problem object built. Only
where the programme's plan breaks a day's cycle limit is the whole ``optimal_dispatch``
run on the sub-problem.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from btm_ppa.core.dispatch import value_function
from btm_ppa.core.dispatch.model import (
    ENERGY_TOLERANCE_MWH,
    DispatchProblem,
    FloatArray,
    Schedule,
    feasibility_problems,
)
from btm_ppa.core.dispatch.optimal import (
    PROFIT_TOLERANCE_GBP,
    DeadlineExceeded,
    OptimalResult,
    battery_value_gbp,
    optimal_dispatch,
)


class TerminalValue(StrEnum):
    """How a plan values the energy left at its horizon's end, per MWh stored."""

    #: Worth nothing (as ``optimal`` values what is left at the window's end).
    NOTHING = "nothing"
    #: The mean forecast import cost of the horizon's last day x efficiency, + VLP - wear:
    #: what a stored MWh would earn discharged at an average period, less what refilling
    #: it at the same average cost would lose (the stored MWh came at cost / efficiency).
    MEAN_COST = "mean forecast cost"
    #: The cheapest forecast charging cost of the horizon's last day per MWh stored
    #: (cost / efficiency): what it would cost to put the energy back, capped at the best
    #: discharge value of that day (never above what it could earn).
    RECHARGE = "cheapest recharge"


#: The rule the plans use by default (measured, see ``daily_dispatch``).
DEFAULT_TERMINAL = TerminalValue.RECHARGE


@dataclass(frozen=True)
class CostForecast:
    """What each daily plan knows of the import costs and demand.

    ``same_day_gbp_per_mwh[t]``: the forecast import cost of period t used by the plan of
    t's own day (made at that day's decision time); ``day_after_gbp_per_mwh[t]``: the one
    used by the plan of the day before (its horizon's second day, made a day earlier).
    ``demand_mwh``: forecast demand per period (None: the problem's own, known).
    """

    same_day_gbp_per_mwh: FloatArray
    day_after_gbp_per_mwh: FloatArray
    demand_mwh: FloatArray | None = None
    name: str = "forecast"


def perfect_foresight(problem: DispatchProblem) -> CostForecast:
    """The true costs and demand as the forecast: the daily perfect-foresight arm."""
    cost = problem.import_cost_gbp_per_mwh
    return CostForecast(cost, cost, None, "perfect foresight")


def forecast_costs(known_charges_gbp_per_mwh: FloatArray,
                   same_day_price_gbp_per_mwh: FloatArray,
                   day_after_price_gbp_per_mwh: FloatArray,
                   demand_mwh: FloatArray | None = None, name: str = "forecast") -> CostForecast:
    """Forecast import costs from forecast energy prices: the DUoS band rates and levies
    (``known_charges``, per period) are known in advance and added to the forecast energy
    price. [£/MWh]"""
    return CostForecast(known_charges_gbp_per_mwh + same_day_price_gbp_per_mwh,
                        known_charges_gbp_per_mwh + day_after_price_gbp_per_mwh, demand_mwh, name)


@dataclass(frozen=True)
class DailyResult:
    """The committed schedule of a run of daily plans."""

    schedule: Schedule
    plans: int
    #: Plans where the cycle limit bound and the whole optimiser ran (not the programme alone).
    limited_plans: int
    #: Plans the optimiser could not prove optimal, and their gaps in all (on the
    #: forecast costs, each over its two-day horizon). [£]
    unproven_plans: int = 0
    plan_gap_gbp: float = 0.0


def daily_dispatch(problem: DispatchProblem, forecast: CostForecast | None = None, *,
                   wear_gbp_per_mwh: float = 0.0,
                   terminal: TerminalValue = DEFAULT_TERMINAL,
                   horizon_days: int = 2, deadline: float | None = None) -> DailyResult:
    """Plan each settlement day of ``problem`` over ``horizon_days`` days (D, D+1) on the
    forecast (None: perfect foresight), commit day D only, carry the true state of
    charge. The battery starts empty on the first day, as in ``optimal``. Raises
    DeadlineExceeded once ``time.monotonic()`` passes ``deadline`` (checked every day)."""
    forecast = forecast or perfect_foresight(problem)
    n = problem.periods
    b = problem.battery
    eff, capacity = b.round_trip_efficiency_frac, b.capacity_mwh
    limit = b.daily_discharge_limit_mwh
    if n == 0:
        empty = np.zeros(0)
        return DailyResult(Schedule(empty, empty, empty), 0, 0)
    days = int(problem.day_index[-1]) + 1
    starts = np.searchsorted(problem.day_index, np.arange(days + 1)).tolist()
    starts[-1] = n
    known_demand = forecast.demand_mwh is None
    planned_on = (problem if forecast.demand_mwh is None
                  else replace(problem, demand_mwh=forecast.demand_mwh))
    # What each plan may do per period (on the demand it was planned on), and what the
    # true demand allows when the plan is carried out.
    stored_cap = eff * planned_on.charge_cap_mwh
    discharge_cap = planned_on.discharge_cap_mwh
    true_charge_cap, true_discharge_cap = problem.charge_cap_mwh, problem.discharge_cap_mwh
    same, after = forecast.same_day_gbp_per_mwh, forecast.day_after_gbp_per_mwh
    vlp = problem.vlp_gbp_per_mwh - wear_gbp_per_mwh
    charge = np.zeros(n)
    discharge = np.zeros(n)
    soc = 0.0
    limited = unproven = 0
    gap = 0.0
    for d in range(days):
        if deadline is not None and time.monotonic() > deadline:
            raise DeadlineExceeded
        lo, mid = starts[d], starts[d + 1]
        hi = starts[min(d + horizon_days, days)]
        cost = np.concatenate([same[lo:mid], after[mid:hi]])
        last = cost[starts[min(d + horizon_days, days) - 1] - lo:]
        value = _terminal_value(terminal, last, eff, vlp)
        a = cost / eff - value  # per MWh stored
        bval = cost + vlp - value  # per MWh discharged
        hc, hx = stored_cap[lo:hi], discharge_cap[lo:hi]
        change = _programme(a, bval, hc, hx, capacity, soc)
        x = np.maximum(-change, 0.0)
        day_of = problem.day_index[lo:hi]
        if (np.bincount(day_of - d, weights=x) > limit + ENERGY_TOLERANCE_MWH).any():
            limited += 1
            change, plan_gap = _optimised(planned_on, lo, hi, d, cost - eff * value,
                                          vlp - (1 - eff) * value, soc)
            if plan_gap > PROFIT_TOLERANCE_GBP:
                unproven += 1
                gap += plan_gap
        u = change[:mid - lo]
        c = np.where(u > 0.0, u / eff, 0.0)
        x = np.where(u < 0.0, -u, 0.0)
        if not known_demand:  # carried out against the true demand
            c, x = _carry_out(c, x, soc, eff, capacity, limit, true_charge_cap[lo:mid],
                              true_discharge_cap[lo:mid])
        charge[lo:mid], discharge[lo:mid] = c, x
        soc = min(max(soc + float(eff * c.sum() - x.sum()), 0.0), capacity)
    return DailyResult(Schedule(charge, discharge, np.cumsum(eff * charge - discharge)),
                       days, limited, unproven, gap)


def _terminal_value(rule: TerminalValue, cost: FloatArray, eff: float, vlp: float) -> float:
    """Value per MWh stored of the energy left at the horizon's end (``cost``: the
    forecast import costs of the horizon's last day; ``vlp``: VLP less wear). [£/MWh]"""
    if rule is TerminalValue.NOTHING or not len(cost):
        return 0.0
    if rule is TerminalValue.MEAN_COST:
        return float(eff * cost.mean()) + vlp
    best = float((cost + vlp).max())
    return min(float(cost.min()) / eff, best)


def _programme(a: FloatArray, b: FloatArray, hc: FloatArray, hx: FloatArray,
               capacity: float, soc: float) -> FloatArray:
    """The programme's plan (stored-energy changes) from ``soc``, with a leading
    charge-only period that must take ``soc``."""
    if soc <= 0.0:
        return value_function.solve(a, b, hc, hx, capacity).stored_change_mwh
    pull = -2.0 * (float(np.abs(a).max()) + float(np.abs(b).max())) - 1.0
    plan = value_function.solve(np.concatenate([[pull], a]), np.concatenate([[pull], b]),
                                np.concatenate([[soc], hc]), np.concatenate([[0.0], hx]),
                                capacity)
    change = plan.stored_change_mwh
    _check_start(float(change[0]), soc)
    return change[1:]


def _optimised(problem: DispatchProblem, lo: int, hi: int, first_day: int, cost: FloatArray,
               vlp: float, soc: float) -> tuple[FloatArray, float]:
    """``optimal_dispatch`` on the horizon's sub-problem (costs and VLP as the plan sees
    them), from ``soc``: its stored-energy changes and the plan's gap. [MWh, £]"""
    b = problem.battery
    eff = b.round_trip_efficiency_frac
    per_period = b.charge_limit_mwh
    if problem.site_import_limit_mwh is not None:
        per_period = min(per_period, problem.site_import_limit_mwh)
    k = 0 if soc <= 0.0 else math.ceil(soc / eff / per_period - 1e-12)
    allowance = np.full(k, per_period)
    if k:
        allowance[-1] = soc / eff - per_period * (k - 1)
    m = hi - lo
    spread = float(np.abs(cost).max()) / eff + float(np.abs(cost + vlp).max())
    sub = DispatchProblem(
        demand_mwh=np.concatenate([np.zeros(k), problem.demand_mwh[lo:hi]]),
        import_cost_gbp_per_mwh=np.concatenate([np.full(k, -eff * (2.0 * spread + 1.0)), cost]),
        band_code=np.concatenate([np.zeros(k, dtype=problem.band_code.dtype),
                                  problem.band_code[lo:hi]]),
        day_index=np.concatenate([np.zeros(k, dtype=np.int64),
                                  problem.day_index[lo:hi] - first_day]),
        vlp_gbp_per_mwh=vlp, battery=b, site_import_limit_mwh=problem.site_import_limit_mwh,
        charge_allowance_mwh=np.concatenate([allowance, np.full(m, np.inf)]))
    result = optimal_dispatch(sub, milp_seconds=0.0)
    s = result.schedule
    if k:
        _check_start(float(eff * s.charge_mwh[:k].sum()), soc)
    return eff * s.charge_mwh[k:] - s.discharge_mwh[k:], result.gap_gbp


def _check_start(taken: float, soc: float) -> None:
    if abs(taken - soc) > 1e-7 * max(1.0, soc):
        raise RuntimeError(f"daily plan did not start from its state of charge: {taken!r} "
                           f"MWh taken for {soc!r} MWh")


def _carry_out(c: FloatArray, x: FloatArray, soc: float, eff: float, capacity: float,
               limit: float, charge_cap: FloatArray, discharge_cap: FloatArray
               ) -> tuple[FloatArray, FloatArray]:
    """The plan's charge and discharge cut back to what the true demand (no export; the
    site import limit), the stored energy and the day's cycle limit allow."""
    c_out, x_out = np.zeros(len(c)), np.zeros(len(x))
    used = 0.0
    for t, (ct, xt) in enumerate(zip(c.tolist(), x.tolist(), strict=True)):
        if xt > 0.0:
            xt = min(xt, float(discharge_cap[t]), soc, limit - used)
            if xt > 0.0:
                x_out[t] = xt
                soc -= xt
                used += xt
        elif ct > 0.0:
            ct = min(ct, float(charge_cap[t]), (capacity - soc) / eff)
            if ct > 0.0:
                c_out[t] = ct
                soc += eff * ct
    return c_out, x_out


@dataclass(frozen=True)
class ScheduleValue:
    """A schedule settled at the problem's (outturn) import costs."""

    profit_gbp: float  # PPA x demand + VLP x discharge - import cost x import (no fixed charges)
    value_gbp: float  # over the site without a battery, gross of wear
    wear_cost_gbp: float
    discharge_mwh: float
    capacity_mwh: float
    days: int

    @property
    def net_value_gbp(self) -> float:
        """Value over no battery, net of wear. [£]"""
        return self.value_gbp - self.wear_cost_gbp

    @property
    def equivalent_full_cycles(self) -> float:
        """Discharge / capacity."""
        return self.discharge_mwh / self.capacity_mwh if self.capacity_mwh > 0 else 0.0

    @property
    def cycles_per_year(self) -> float:
        """Equivalent full cycles a year (365.25 days)."""
        return self.equivalent_full_cycles * 365.25 / self.days if self.days else 0.0


def schedule_value(problem: DispatchProblem, schedule: Schedule, *,
                   wear_gbp_per_mwh: float = 0.0, ppa_gbp_per_mwh: float = 0.0) -> ScheduleValue:
    """Profit, value over the no-battery baseline, wear cost and cycles of any schedule,
    at the problem's import costs."""
    cost = problem.import_cost_gbp_per_mwh
    x, c = schedule.discharge_mwh, schedule.charge_mwh
    imported = problem.demand_mwh - x + c
    discharged = float(x.sum())
    return ScheduleValue(
        profit_gbp=float(ppa_gbp_per_mwh * problem.demand_mwh.sum()
                         + problem.vlp_gbp_per_mwh * discharged - cost @ imported),
        value_gbp=float((cost + problem.vlp_gbp_per_mwh) @ x - cost @ c),
        wear_cost_gbp=wear_gbp_per_mwh * discharged, discharge_mwh=discharged,
        capacity_mwh=problem.battery.capacity_mwh,
        days=int(problem.day_index[-1]) + 1 if problem.periods else 0)


def better_of(problem: DispatchProblem, result: OptimalResult, candidate: Schedule
              ) -> tuple[OptimalResult, bool]:
    """``optimal_dispatch``'s answer, or the same with ``candidate`` as its schedule where
    that is feasible and worth more on ``problem`` (the optimiser's view: wear included).
    Where a gap is left the search's schedule is only the best it found; a daily arm's
    schedule is feasible for the whole window and can beat it (never the bound). Also
    whether the candidate was taken."""
    value = battery_value_gbp(problem, candidate)
    if value <= result.value_gbp + PROFIT_TOLERANCE_GBP or feasibility_problems(problem,
                                                                                 candidate):
        return result, False
    return replace(result, schedule=candidate, value_gbp=value), True


def with_wear(problem: DispatchProblem, wear_gbp_per_mwh: float) -> DispatchProblem:
    """The problem the optimiser sees with a wear cost: VLP less wear per MWh discharged
    (settle schedules on the original problem)."""
    if wear_gbp_per_mwh == 0.0:
        return problem
    return replace(problem, vlp_gbp_per_mwh=problem.vlp_gbp_per_mwh - wear_gbp_per_mwh)
