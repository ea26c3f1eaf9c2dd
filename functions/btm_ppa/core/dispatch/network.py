"""The dispatch LP with each period's open modes fixed, solved as a minimum-cost
circulation by the compiled network simplex (``circulation`` in btm-ppa-dp, from
``functions/dp_kernel/network_simplex.c``): the same contract as ``lp.FixedModeLp`` for
what ``optimal`` uses, several times faster than HiGHS on a site-year.

The network. Flow is stored energy. Nodes: one per period, one hub per settlement day,
a root. Arcs:

- root -> t, charging: capacity efficiency x charge cap (the power limit and the site
  import limit less demand), cost import cost / efficiency per MWh stored (losses are
  taken on charging);
- t -> day hub, discharging: capacity min(discharge limit, demand), cost -(import cost +
  VLP) per MWh;
- t -> t+1, energy kept: capacity = battery capacity; the last period's goes to the root
  (energy left at the end is worth nothing);
- day hub -> root: capacity = cycles per day x capacity (the daily cycle limit).

A circulation is a schedule and its cost is minus the battery's value, so the least-cost
circulation is the LP optimum. The daily limit's price nu_d (£/MWh) is minus the reduced
cost of the hub -> root arc, pi(root) - pi(hub), where it is positive: the value of one
more MWh of discharge allowed that day.

Unlike ``FixedModeLp`` there are no hull rows (``hull`` is ignored). Where both modes are
left open in a period where doing both pays (``optimal.simultaneity_pays``), the
circulation may charge and discharge at once; ``optimal._fixed_mode_optimum`` resolves
that by fixing one mode there and solving again, as it does for HiGHS's hull solutions.
Elsewhere doing both never gains, and the optimum is exact.

Arithmetic is exact in int64: energies are scaled to 1e-12 MWh per unit and costs to
1e-8 £/MWh per unit, each coarsened where needed to keep the largest capacity, and
(nodes x the largest cost), below 1e18 (potentials are sums of costs along tree paths).
On a site-year of costs up to £10,000/MWh the resolution is unchanged: a schedule is
exact to 1e-12 MWh per arc, its value to about 1e-8 £/MWh times the energy moved.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from btm_ppa.core.dispatch.model import DispatchProblem, FloatArray, IntArray, Schedule
from btm_ppa.core.dispatch.value_function import DeadlineExceeded

try:
    from btm_ppa_dp import circulation as _circulation
except ImportError:  # the compiled distribution is not installed (or predates it)
    _circulation = None

#: Whether the compiled network simplex is installed; without it ``optimal`` uses HiGHS.
AVAILABLE = _circulation is not None

#: Integer units per MWh of energy and per £/MWh of cost, at most. [1/MWh, 1/(£/MWh)]
ENERGY_UNITS_PER_MWH = 1e12
COST_UNITS_PER_GBP_PER_MWH = 1e8
#: Largest integer a capacity, or a potential (nodes x largest cost), may reach.
_INT_BUDGET = 1e18
#: Pivot budget per arc; the network simplex needs a few pivots per arc in practice.
PIVOTS_PER_ARC = 50
#: Arcs priced before the best violating one found so far enters the tree.
PRICING_BLOCK = 5

_OPTIMAL, _PIVOT_LIMIT = 0, 1


class FixedModeNetwork:
    """The LP with open modes fixed (see the module docstring), as a circulation. Each
    ``solve`` starts from zero flow (a cold start: no basis is kept between solves)."""

    def __init__(self, problem: DispatchProblem, hull: npt.NDArray[np.bool_] | None = None
                 ) -> None:
        if _circulation is None:
            raise RuntimeError("the network simplex needs btm-ppa-dp with circulation(): "
                               "run `make setup`")
        del hull  # no hull rows in a network (see the module docstring)
        b, n = problem.battery, problem.periods
        eff = b.round_trip_efficiency_frac
        cost = problem.import_cost_gbp_per_mwh
        self.problem = problem
        self.days = int(problem.day_index[-1]) + 1 if n else 0
        self.charge_cap = problem.charge_cap_mwh
        self.discharge_cap = problem.discharge_cap_mwh
        days, root = self.days, n + self.days
        t = np.arange(n)
        self._root = root
        self._tail = np.concatenate([np.full(n, root), t, t, n + np.arange(days)]).astype(np.int64)
        self._head = np.concatenate([t, n + problem.day_index, np.append(t[1:], root),
                                     np.full(days, root)]).astype(np.int64)
        cap_mwh = np.concatenate([eff * self.charge_cap, self.discharge_cap,
                                  np.full(n, b.capacity_mwh),
                                  np.full(days, b.daily_discharge_limit_mwh)])
        cost_gbp_per_mwh = np.concatenate([cost / eff, -(cost + problem.vlp_gbp_per_mwh),
                                           np.zeros(n + days)])
        if not (np.isfinite(cost_gbp_per_mwh).all() and np.isfinite(cap_mwh).all()):
            raise ValueError("import costs, VLP and battery limits must be finite numbers")
        if (cap_mwh < 0).any():
            raise ValueError("charge, discharge, capacity and cycle limits must be >= 0 MWh")
        #: Integer units per MWh and per £/MWh for this problem.
        self.energy_units_per_mwh = min(ENERGY_UNITS_PER_MWH,
                                        _INT_BUDGET / max(float(cap_mwh.max(initial=0)), 1.0))
        self.cost_units_per_gbp_per_mwh = min(
            COST_UNITS_PER_GBP_PER_MWH,
            _INT_BUDGET / ((root + 1) * max(float(np.abs(cost_gbp_per_mwh).max(initial=0)), 1.0)))
        self._cost = np.round(cost_gbp_per_mwh * self.cost_units_per_gbp_per_mwh).astype(np.int64)
        self._full_capacity = self._units(cap_mwh)
        if days and self._full_capacity[3 * n] == 0:
            # No discharge allowed at all: the discharge arcs close, and each hub keeps a
            # one-unit arc to the root (the starting tree needs one) that no flow reaches.
            self._full_capacity[n:2 * n] = 0
            self._full_capacity[3 * n:] = 1
        self._capacity = self._full_capacity.copy()
        self.last_pivots = 0

    def _units(self, energy_mwh: FloatArray) -> IntArray:
        return np.round(energy_mwh * self.energy_units_per_mwh).astype(np.int64)

    def set_open_modes(self, charge_open: npt.NDArray[np.bool_],
                       discharge_open: npt.NDArray[np.bool_]) -> None:
        """Close charging or discharging per period (a closed mode's arc gets capacity 0)."""
        n = self.problem.periods
        full = self._full_capacity
        self._capacity[:n] = np.where(charge_open, full[:n], 0)
        self._capacity[n:2 * n] = np.where(discharge_open, full[n:2 * n], 0)

    def solve(self, start: Schedule | None = None,
              deadline: float | None = None) -> tuple[Schedule, FloatArray, float]:
        """The optimum for the open modes, the daily cycle limit's prices (£/MWh >= 0) and
        the optimal battery value (£). ``start`` is accepted for ``FixedModeLp``'s
        contract and not used. Raises DeadlineExceeded when ``deadline`` (a
        ``time.monotonic()`` value) has passed before solving, and RuntimeError if the
        pivot budget runs out."""
        del start
        if deadline is not None and time.monotonic() >= deadline:
            raise DeadlineExceeded
        problem = self.problem
        n, days, root = problem.periods, self.days, self._root
        eff = problem.battery.round_trip_efficiency_frac
        capacity = self._capacity
        flow = np.zeros(len(capacity), dtype=np.int64)
        potential = np.zeros(root + 1, dtype=np.int64)
        if n and capacity[2 * n] > 0:  # else no energy can be kept: nothing to do
            parent, parent_arc = self._starting_tree()
            status, self.last_pivots = _circulation(
                self._tail, self._head, capacity, self._cost, parent, parent_arc,
                PRICING_BLOCK, PIVOTS_PER_ARC * len(capacity), flow, potential)
            if status == _PIVOT_LIMIT:
                raise RuntimeError(f"network simplex: no optimum within {self.last_pivots} "
                                   "pivots")
        stored = flow[:n] / self.energy_units_per_mwh
        charge = stored / eff
        discharge = flow[n:2 * n] / self.energy_units_per_mwh
        hub_reduced = potential[n:n + days] - potential[root]
        prices = np.maximum(0, -hub_reduced) / self.cost_units_per_gbp_per_mwh
        cost = problem.import_cost_gbp_per_mwh
        value = float((cost + problem.vlp_gbp_per_mwh) @ discharge - cost @ charge)
        return Schedule(charge, discharge, np.cumsum(stored - discharge)), prices, value

    def _starting_tree(self) -> tuple[IntArray, IntArray]:
        """All flows zero; every tree arc runs from a node to its parent with positive
        capacity (strongly feasible): each period hangs off its day's hub by its
        discharge arc, or off the next period (the last: the root) by its energy-kept arc
        when it cannot discharge; each hub hangs off the root by its cycle-limit arc."""
        n, days, root = self.problem.periods, self.days, self._root
        capacity = self._capacity
        t = np.arange(n)
        can_discharge = capacity[n:2 * n] > 0
        parent = np.empty(root + 1, dtype=np.int64)
        parent_arc = np.empty(root + 1, dtype=np.int64)
        parent[:n] = np.where(can_discharge, n + self.problem.day_index, np.append(t[1:], root))
        parent_arc[:n] = np.where(can_discharge, n + t, 2 * n + t)
        parent[n:root], parent_arc[n:root] = root, 3 * n + np.arange(days)
        parent[root], parent_arc[root] = -1, -1
        return parent, parent_arc
