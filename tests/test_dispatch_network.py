"""The compiled network simplex (btm-ppa-dp's ``circulation``) on random circulations
against scipy's LP, and ``FixedModeNetwork`` against HiGHS's ``FixedModeLp``: the same
optimum, a feasible schedule, and cycle-limit prices certified by Lagrangian duality."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from btm_ppa.core import dispatch as D
from btm_ppa.core.dispatch import network as N
from btm_ppa.core.dispatch import optimal as O
from btm_ppa.core.dispatch import value_function as V
from btm_ppa.core.dispatch.lp import FixedModeLp
from btm_ppa.core.dispatch.optimal import _net, simultaneity_pays
from tests.test_dispatch import _check_against_reference, instances, multi_day_instances, problem

pytestmark = pytest.mark.unit

btm_ppa_dp = pytest.importorskip("btm_ppa_dp", reason="the compiled programme is not installed")
if not N.AVAILABLE:
    pytest.skip("btm-ppa-dp predates circulation(): run make setup", allow_module_level=True)


def circulate(tail, head, capacity, cost, parent, parent_arc, max_pivots=10_000, block=5):
    flow = np.zeros(len(tail), dtype=np.int64)
    potential = np.zeros(len(parent), dtype=np.int64)
    status, pivots = btm_ppa_dp.circulation(tail, head, capacity, cost, parent.copy(),
                                            parent_arc.copy(), block, max_pivots, flow, potential)
    return status, pivots, flow, potential


@st.composite
def circulations(draw):
    """A random graph whose first arcs form a tree: node i -> parent[i] (parent > i, the
    last node is the root), with positive capacity; then random extra arcs, some with
    zero capacity, costs of both signs (negative cycles are what the solver removes)."""
    nodes = draw(st.integers(2, 9))
    parent = [draw(st.integers(i + 1, nodes - 1)) for i in range(nodes - 1)]
    extra = draw(st.integers(1, 3 * nodes))
    tail = list(range(nodes - 1)) + [draw(st.integers(0, nodes - 1)) for _ in range(extra)]
    head = parent + [draw(st.integers(0, nodes - 1)) for _ in range(extra)]
    capacity = ([draw(st.integers(1, 50)) for _ in range(nodes - 1)]
                + [draw(st.integers(0, 50)) for _ in range(extra)])
    cost = [draw(st.integers(-100, 100)) for _ in range(len(tail))]
    arrays = [np.array(a, dtype=np.int64) for a in (tail, head, capacity, cost)]
    return (*arrays, np.array([*parent, -1], dtype=np.int64),
            np.array([*range(nodes - 1), -1], dtype=np.int64))


@settings(max_examples=200, deadline=None)
@given(case=circulations(), block=st.sampled_from([1, 5, 1000]))
def test_circulation_is_feasible_optimal_and_certified_by_its_potentials(case, block):
    tail, head, capacity, cost, parent, _ = case
    nodes = len(parent)
    status, _, flow, potential = circulate(*case, block=block)
    assert status == 0
    assert ((flow >= 0) & (flow <= capacity)).all()
    assert (np.bincount(tail, flow, nodes) == np.bincount(head, flow, nodes)).all()
    incidence = np.zeros((nodes, len(tail)))
    incidence[tail, np.arange(len(tail))] += 1
    incidence[head, np.arange(len(tail))] -= 1
    lp = linprog(cost, A_eq=incidence, b_eq=np.zeros(nodes),
                 bounds=list(zip(np.zeros(len(tail)), capacity, strict=True)), method="highs")
    assert int(cost @ flow) == pytest.approx(lp.fun, abs=1e-6)
    # Complementary slackness, exactly in integers: the potentials prove optimality.
    reduced = cost + potential[tail] - potential[head]
    assert (reduced[flow < capacity] >= 0).all()
    assert (reduced[flow > 0] <= 0).all()


TRIANGLE = dict(tail=np.array([0, 1, 2, 0], dtype=np.int64),
                head=np.array([2, 2, 0, 1], dtype=np.int64),
                capacity=np.array([10, 4, 9, 7], dtype=np.int64),
                cost=np.array([5, -1, -4, 2], dtype=np.int64),
                parent=np.array([2, 2, -1], dtype=np.int64),
                parent_arc=np.array([0, 1, -1], dtype=np.int64))


def test_a_negative_cycle_is_saturated_and_nothing_else_moves():
    # 0 -> 1 -> 2 -> 0 costs -3 per unit and carries at most 4; 0 -> 2 is dearer.
    status, pivots, flow, _ = circulate(**TRIANGLE)
    assert (status, flow.tolist()) == (0, [0, 4, 4, 4])
    assert pivots >= 1
    status, pivots, _, _ = circulate(**TRIANGLE, max_pivots=0)
    assert (status, pivots) == (1, 0)  # out of pivots: reported, not returned as optimal


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(capacity=a["capacity"].astype(float)), "int64"),
    (lambda a: a.update(capacity=a["capacity"][:3]), "one entry per arc"),
    (lambda a: a.update(parent=np.array([1, 2, -1], dtype=np.int64)), "from a node to its parent"),
    (lambda a: a["capacity"].__setitem__(1, 0), "positive capacity"),
    (lambda a: a["capacity"].__setitem__(3, -1), ">= 0"),
    (lambda a: a["head"].__setitem__(3, 7), "expected nodes"),
    (lambda a: a["cost"].__setitem__(3, 2**61), "overflows"),
    (lambda a: a.update(parent=np.array([2, 2, 0], dtype=np.int64),
                        parent_arc=np.array([0, 1, 2], dtype=np.int64)), "root"),
])
def test_bad_networks_are_refused(change, message):
    args = {k: v.copy() for k, v in TRIANGLE.items()}
    change(args)
    with pytest.raises(ValueError, match=message):
        circulate(**args)


def lagrangian_bound_gbp(p, charge_open, discharge_open, prices):
    """max sum((cost + VLP - nu_day) x) - sum(cost c) over the open modes without the
    daily rows, plus nu x daily limit: at least the LP optimum for any nu >= 0, and equal
    to it exactly when nu is an optimal dual (scipy's LP, a formulation of its own)."""
    n, b = p.periods, p.battery
    eff, cost = b.round_trip_efficiency_frac, p.import_cost_gbp_per_mwh
    lower = np.tril(np.ones((n, n)))  # soc[t] = sum over s <= t of eff c_s - x_s
    a_ub = np.vstack([np.hstack([eff * lower, -lower]), np.hstack([-eff * lower, lower])])
    b_ub = np.concatenate([np.full(n, b.capacity_mwh), np.zeros(n)])
    upper = np.concatenate([np.where(charge_open, p.charge_cap_mwh, 0),
                            np.where(discharge_open, p.discharge_cap_mwh, 0)])
    c = np.concatenate([cost, -(cost + p.vlp_gbp_per_mwh - prices[p.day_index])])
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=list(zip(np.zeros(2 * n), upper, strict=True)),
                  method="highs")
    assert res.status == 0
    return -res.fun + b.daily_discharge_limit_mwh * prices.sum()


@st.composite
def open_modes(draw, p):
    """Per period: both open, one, or none, but never both where doing both pays."""
    pays = simultaneity_pays(p)
    choice = np.array([draw(st.sampled_from([0, 1, 2] if paying else [0, 1, 2, 3]))
                       for paying in pays])
    return (choice == 0) | (choice == 3), (choice == 1) | (choice == 3)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), p=instances())
def test_the_network_finds_highs_optimum_with_valid_prices(data, p):
    charge_open, discharge_open = data.draw(open_modes(p))
    pays = simultaneity_pays(p)
    lp, net = FixedModeLp(p, hull=pays), N.FixedModeNetwork(p, hull=pays)
    for model in (lp, net):
        model.set_open_modes(charge_open, discharge_open)
    _, _, lp_value = lp.solve()
    schedule, prices, value = net.solve()
    scale = 1.0 + abs(lp_value)
    assert value == pytest.approx(lp_value, abs=1e-6 * scale)
    netted = _net(p, schedule)
    assert D.feasibility_problems(p, netted) == []
    assert D.battery_value_gbp(p, netted) == pytest.approx(value, abs=1e-6 * scale)
    assert not (schedule.charge_mwh[~charge_open] > 0).any()
    assert not (schedule.discharge_mwh[~discharge_open] > 0).any()
    # The prices: >= 0, positive only on days at the limit, and an optimal dual.
    assert (prices >= 0).all()
    daily = np.bincount(p.day_index, weights=schedule.discharge_mwh, minlength=len(prices))
    at_limit = daily >= p.battery.daily_discharge_limit_mwh - 1e-9
    assert (at_limit | (prices == 0)).all()
    bound = lagrangian_bound_gbp(p, charge_open, discharge_open, prices)
    assert bound == pytest.approx(lp_value, abs=1e-6 * scale)


@pytest.mark.parametrize("capacity_mwh, cycles", [(0.0, 1.0), (1.0, 0.0)])
def test_a_battery_that_cannot_store_or_cannot_discharge(capacity_mwh, cycles):
    # Negative prices pay for charging even when nothing can be discharged.
    p = problem([-20, 50, 80, -5], capacity_mwh=capacity_mwh, cycles=cycles, power_mw=2.0)
    everything = np.ones(4, dtype=bool)
    lp, net = FixedModeLp(p, hull=everything), N.FixedModeNetwork(p, hull=everything)
    _, _, lp_value = lp.solve()
    schedule, prices, value = net.solve()
    assert value == pytest.approx(lp_value, abs=1e-9)
    assert value == pytest.approx(20 * capacity_mwh)  # charged at -£20, never discharged
    assert D.feasibility_problems(p, schedule) == []
    assert (prices == 0).all()


def test_a_hand_checked_day_with_the_limit_binding():
    # 1 MWh a period, 1.5 MWh a day: 1 MWh from £10 to £100, then 0.5 MWh from £0 to
    # £70, with room in both of those periods: one more MWh allowed earns £70 more.
    p = problem([10, 100, 0, 70], capacity_mwh=1.0, cycles=1.5, power_mw=2.0)
    net = N.FixedModeNetwork(p, hull=np.zeros(4, dtype=bool))
    schedule, prices, value = net.solve()
    lp = FixedModeLp(p, hull=np.zeros(4, dtype=bool))
    _, lp_prices, lp_value = lp.solve()
    np.testing.assert_allclose(schedule.discharge_mwh, [0, 1, 0, 0.5], atol=1e-12)
    assert value == pytest.approx(lp_value) == pytest.approx(90 + 35)
    np.testing.assert_allclose(prices, lp_prices, atol=1e-6)
    np.testing.assert_allclose(prices, [70.0])


def site_year():
    rng = np.random.default_rng(7)
    n = 17_520
    t = np.arange(n)
    cost = 95 + 60 * np.sin(2 * np.pi * t / 48) + rng.normal(0, 25, n)
    return D.DispatchProblem(
        demand_mwh=rng.uniform(0.2, 2.0, n), import_cost_gbp_per_mwh=cost,
        band_code=np.zeros(n, np.int8), day_index=t // 48, vlp_gbp_per_mwh=35.0,
        battery=D.Battery(3.0, 3.0, 6.0, 1.0, 0.9), site_import_limit_mwh=2.5), rng


def test_a_real_shaped_site_year_agrees_with_highs():
    p, rng = site_year()
    pays = simultaneity_pays(p)
    charge_open = ~pays | (rng.random(p.periods) < 0.5)
    discharge_open = ~pays | ~charge_open
    lp, net = FixedModeLp(p, hull=pays), N.FixedModeNetwork(p, hull=pays)
    for model in (lp, net):
        model.set_open_modes(charge_open, discharge_open)
    _, lp_prices, lp_value = lp.solve()
    schedule, prices, value = net.solve()
    assert pays.any() and (prices > 0).any()  # both the one-mode rule and the limit bite
    assert value == pytest.approx(lp_value, rel=1e-10)
    assert D.feasibility_problems(p, _net(p, schedule)) == []
    # Most days' prices are HiGHS's; where the LP is degenerate the duals are not unique,
    # and both sets must then be optimal duals: the dynamic programme with the daily
    # limit priced in (exact for these open modes) meets the LP's value at either.
    assert np.isclose(prices, lp_prices, atol=1e-5).mean() > 0.8
    daily = np.bincount(p.day_index, weights=schedule.discharge_mwh)
    assert ((daily >= p.battery.daily_discharge_limit_mwh - 1e-9) | (prices == 0)).all()
    eff, cost = p.battery.round_trip_efficiency_frac, p.import_cost_gbp_per_mwh
    for nu in (prices, lp_prices):
        plan = V.solve(cost / eff, cost + p.vlp_gbp_per_mwh - nu[p.day_index],
                       np.where(charge_open, eff * p.charge_cap_mwh, 0),
                       np.where(discharge_open, p.discharge_cap_mwh, 0), p.battery.capacity_mwh)
        bound = plan.value_gbp + p.battery.daily_discharge_limit_mwh * nu.sum()
        assert bound == pytest.approx(lp_value, rel=1e-9)


def test_a_past_deadline_raises_and_a_short_budget_is_an_error(monkeypatch):
    p, _ = site_year()
    net = N.FixedModeNetwork(p, hull=None)
    with pytest.raises(D.DeadlineExceeded):
        net.solve(deadline=time.monotonic() - 1)
    monkeypatch.setattr(N, "PIVOTS_PER_ARC", 0)
    with pytest.raises(RuntimeError, match="pivots"):
        net.solve(deadline=time.monotonic() + 600)


@settings(max_examples=40, deadline=None)
@given(p=st.one_of(instances(), multi_day_instances()))
def test_optimal_dispatch_on_highs_alone_still_matches_an_independent_milp(p):
    # The default solves the price rounds on the network (test_dispatch covers it); HiGHS
    # is what runs where the compiled part is not installed.
    assert O.USE_NETWORK_SIMPLEX
    saved, O.USE_NETWORK_SIMPLEX = O.USE_NETWORK_SIMPLEX, False
    try:
        _check_against_reference(p)
    finally:
        O.USE_NETWORK_SIMPLEX = saved
