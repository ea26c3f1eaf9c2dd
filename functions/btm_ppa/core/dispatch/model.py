"""Half-hourly battery dispatch behind the meter: the model, the battery-first rule and
the exact optimum.

Per settlement period t, all energies in MWh for the period:

- ``demand[t]`` site demand d_t, served once: ``grid_to_site[t] + discharge[t] = demand[t]``;
- ``charge[t]`` c_t, energy drawn from the grid into the battery, ``<= charge_limit`` and,
  with a site import limit L (agreed capacity x power factor, per period), ``<= L - demand[t]``
  (site import = demand - discharge + charge, and charging periods do not discharge);
- ``discharge[t]`` x_t, energy delivered to the site, ``<= discharge_limit`` and
  ``<= demand[t]`` (no export);
- ``soc[t]`` stored energy at the end of period t, in ``[0, capacity]``, starting empty:
  ``soc[t] = soc[t-1] + efficiency * charge[t] - discharge[t]``. Round-trip losses are
  taken on charging, so capacity is energy the battery can deliver and 1 MWh charged
  gives ``efficiency`` MWh delivered, as in the `sheet` method;
- per settlement day, ``sum(discharge) <= cycles_per_day * capacity`` (a cycle is one
  capacity's worth of discharge);
- never charging and discharging in the same period.

Per period, changing the stored energy by ds costs f_t(ds) = (cost/eff) ds when charging
(ds > 0) and earns (cost + VLP) |ds| when discharging (ds < 0). Where
(cost + VLP) x eff > cost, f_t has a concave kink: charging and discharging at once would
pay ("burning" energy into the site to earn VLP), which the last rule forbids; ``optimal``
handles those periods exactly (see ``value_function``).

Profit = PPA x sum(d) + VLP x sum(x) - sum(import_cost[t] x (grid_to_site[t] + charge[t])),
so with demand fixed the schedule maximises sum((import_cost + VLP) x) - sum(import_cost c).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from btm_ppa.core.units import mw_to_mwh_per_period

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Energy below this is treated as zero when checking schedules. [MWh]
ENERGY_TOLERANCE_MWH = 1e-6


@dataclass(frozen=True)
class Battery:
    """A behind-the-meter battery."""

    charge_power_mw: float
    discharge_power_mw: float
    capacity_mwh: float
    cycles_per_day: float
    round_trip_efficiency_frac: float

    @property
    def charge_limit_mwh(self) -> float:
        """Most grid energy taken in one settlement period. [MWh]"""
        return mw_to_mwh_per_period(self.charge_power_mw)

    @property
    def discharge_limit_mwh(self) -> float:
        """Most energy delivered in one settlement period. [MWh]"""
        return mw_to_mwh_per_period(self.discharge_power_mw)

    @property
    def daily_discharge_limit_mwh(self) -> float:
        return self.cycles_per_day * self.capacity_mwh


@dataclass(frozen=True)
class DispatchProblem:
    """Everything a schedule is chosen from, one entry per settlement period."""

    demand_mwh: FloatArray
    import_cost_gbp_per_mwh: FloatArray  # system buy + DUoS band rate + TNUoS ... FiT
    band_code: npt.NDArray[np.int8]  # 0 red, 1 amber, 2 green
    day_index: IntArray  # settlement day, 0-based and non-decreasing
    vlp_gbp_per_mwh: float
    battery: Battery
    #: Agreed import capacity x power factor, per settlement period (None: no limit). [MWh]
    site_import_limit_mwh: float | None = None
    #: Per-period cap on grid energy charged besides the power and site import limits
    #: (None: none). A daily plan's sub-problem uses it to start from a given state of
    #: charge (``realistic``). [MWh]
    charge_allowance_mwh: FloatArray | None = None

    @property
    def periods(self) -> int:
        return len(self.demand_mwh)

    @property
    def charge_cap_mwh(self) -> FloatArray:
        """Per-period charge bound: power limit and the site import limit less demand."""
        limit = np.full(self.periods, self.battery.charge_limit_mwh)
        if self.charge_allowance_mwh is not None:
            limit = np.minimum(limit, self.charge_allowance_mwh)
        if self.site_import_limit_mwh is None:
            return limit
        return np.minimum(limit, np.maximum(0.0, self.site_import_limit_mwh - self.demand_mwh))

    @property
    def discharge_cap_mwh(self) -> FloatArray:
        """Per-period discharge bound: power limit and no export."""
        return np.minimum(self.battery.discharge_limit_mwh, self.demand_mwh)


@dataclass(frozen=True)
class Schedule:
    charge_mwh: FloatArray
    discharge_mwh: FloatArray
    soc_mwh: FloatArray

    def grid_to_site_mwh(self, problem: DispatchProblem) -> FloatArray:
        return problem.demand_mwh - self.discharge_mwh


def profit_gbp(problem: DispatchProblem, schedule: Schedule, ppa_gbp_per_mwh: float) -> float:
    """PPA x sum(d) + VLP x sum(x) - sum(import cost x (grid to site + charge)). [£]"""
    imported = schedule.grid_to_site_mwh(problem) + schedule.charge_mwh
    return float(ppa_gbp_per_mwh * problem.demand_mwh.sum()
                 + problem.vlp_gbp_per_mwh * schedule.discharge_mwh.sum()
                 - problem.import_cost_gbp_per_mwh @ imported)


def no_battery(problem: DispatchProblem) -> Schedule:
    zeros = np.zeros(problem.periods)
    return Schedule(zeros, zeros.copy(), zeros.copy())


def feasibility_problems(problem: DispatchProblem, schedule: Schedule,
                         tol: float = ENERGY_TOLERANCE_MWH) -> list[str]:
    """Every constraint the schedule breaks (empty when feasible)."""
    b, ch, x, soc = problem.battery, schedule.charge_mwh, schedule.discharge_mwh, schedule.soc_mwh
    found = []
    if (ch < -tol).any() or (ch > b.charge_limit_mwh + tol).any():
        found.append("charge outside [0, charge limit]")
    elif (ch > problem.charge_cap_mwh + tol).any():
        found.append("site import above the site import limit while charging")
    if (x < -tol).any() or (x > problem.discharge_cap_mwh + tol).any():
        found.append("discharge outside [0, min(discharge limit, demand)]")
    expected_soc = np.cumsum(b.round_trip_efficiency_frac * ch - x)
    if np.abs(expected_soc - soc).max(initial=0) > tol * max(1, problem.periods) ** 0.5 * 10:
        found.append("state of charge does not follow charge and discharge")
    if (expected_soc < -tol * 10).any() or (expected_soc > b.capacity_mwh + tol * 10).any():
        found.append("state of charge outside [0, capacity]")
    if ((ch > tol) & (x > tol)).any():
        found.append("charging and discharging in the same period")
    daily = np.bincount(problem.day_index, weights=x)
    if (daily > b.daily_discharge_limit_mwh + tol * 10).any():
        found.append("more discharge in a day than cycles per day allow")
    return found
