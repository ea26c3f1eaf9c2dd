"""Half-hourly dispatch: hand-checkable cases, properties, and the optimum against an
independent MILP formulation (scipy's milp, every period with its own binary)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from btm_ppa.core import dispatch as D
from btm_ppa.core.dispatch import optimal as DO

RED, AMBER, GREEN = 0, 1, 2


def problem(cost, demand=None, band=None, days=None, vlp=0.0, power_mw=2.0, capacity_mwh=1.0,
            cycles=1.0, efficiency=1.0):
    cost = np.asarray(cost, dtype=float)
    n = len(cost)
    return D.DispatchProblem(
        demand_mwh=np.ones(n) if demand is None else np.asarray(demand, dtype=float),
        import_cost_gbp_per_mwh=cost,
        band_code=np.full(n, GREEN, dtype=np.int8) if band is None else np.asarray(band, np.int8),
        day_index=np.zeros(n, dtype=np.int64) if days is None else np.asarray(days, np.int64),
        vlp_gbp_per_mwh=vlp,
        battery=D.Battery(power_mw, power_mw, capacity_mwh, cycles, efficiency))


def test_two_periods_charge_cheap_discharge_dear():
    p = problem([20, 100], band=[GREEN, RED])
    for schedule in (D.greedy_schedule(p), D.optimal_schedule(p)):
        np.testing.assert_allclose(schedule.charge_mwh, [1, 0])
        np.testing.assert_allclose(schedule.discharge_mwh, [0, 1])
        # 2 MWh at £150 - (1 MWh site + 1 MWh charge) x £20 = 300 - 40.
        assert D.profit_gbp(p, schedule, 150) == pytest.approx(260)
    assert D.profit_gbp(p, D.no_battery(p), 150) == pytest.approx(300 - 20 - 100)


def test_a_day_where_the_rule_and_the_optimum_differ():
    # Green is dear tonight (a price spike), amber is cheap: the rule still charges in
    # green, the optimum in amber.
    p = problem([100, 20, 200], band=[GREEN, AMBER, RED])
    greedy, optimal = D.greedy_schedule(p), D.optimal_schedule(p)
    np.testing.assert_allclose(greedy.charge_mwh, [1, 0, 0])
    np.testing.assert_allclose(optimal.charge_mwh, [0, 1, 0])
    np.testing.assert_allclose(optimal.discharge_mwh, [0, 0, 1])
    assert D.profit_gbp(p, optimal, 150) - D.profit_gbp(p, greedy, 150) == pytest.approx(80)


def test_efficiency_is_taken_on_charging():
    p = problem([10, 300], band=[GREEN, RED], efficiency=0.8, capacity_mwh=0.8)
    s = D.optimal_schedule(p)
    np.testing.assert_allclose(s.charge_mwh, [1.0, 0])  # 1 MWh in ...
    np.testing.assert_allclose(s.discharge_mwh, [0, 0.8])  # ... 0.8 MWh out
    np.testing.assert_allclose(s.soc_mwh, [0.8, 0.0])


def test_never_charges_and_discharges_in_one_period_even_when_the_lp_would():
    # VLP £100/MWh: charging 1 MWh at £10 and passing 0.9 MWh straight to the site earns
    # 0.9 x 110 - 10 = £89 in the LP relaxation. Exclusive, one period can do nothing.
    p = problem([10], vlp=100.0, efficiency=0.9, cycles=10)
    relaxed = DO._DispatchLp(p).solve()
    assert relaxed.charge_mwh[0] > 0 and relaxed.discharge_mwh[0] > 0
    exact = D.optimal_schedule(p)
    assert D.feasibility_problems(p, exact) == []
    assert D.profit_gbp(p, exact, 150) == pytest.approx(D.profit_gbp(p, D.no_battery(p), 150))


def test_negative_prices_still_exclusive():
    p = problem([-50, -40, 300, -60, 200], band=[GREEN, GREEN, RED, GREEN, RED], vlp=30,
                efficiency=0.9, cycles=3, demand=[0.5] * 5)
    s = D.optimal_schedule(p)
    assert D.feasibility_problems(p, s) == []
    assert D.profit_gbp(p, s, 150) == pytest.approx(reference_optimum(p, 150), abs=1e-3)


def test_cycles_per_day_cap_discharge_per_settlement_day():
    # Two days, each cheap then dear; one cycle a day of a 1 MWh battery.
    p = problem([10, 200, 200, 10, 200, 200], band=[GREEN, RED, RED] * 2, days=[0, 0, 0, 1, 1, 1],
                capacity_mwh=1.0, power_mw=4.0, demand=[2] * 6)
    for s in (D.greedy_schedule(p), D.optimal_schedule(p)):
        assert D.feasibility_problems(p, s) == []
        daily = np.bincount(p.day_index, weights=s.discharge_mwh)
        np.testing.assert_allclose(daily, [1.0, 1.0])


def test_no_export_discharge_limited_by_demand():
    p = problem([10, 300], band=[GREEN, RED], demand=[1.0, 0.3])
    s = D.optimal_schedule(p)
    assert s.discharge_mwh[1] == pytest.approx(0.3)


def reference_optimum(p: D.DispatchProblem, ppa: float) -> float:
    """Independent formulation: variables g, c, x, soc, z per period, the site balance
    g + x = d explicit, exclusivity by a binary in every period; scipy's milp."""
    n, b = p.periods, p.battery
    eff, cost = b.round_trip_efficiency_frac, p.import_cost_gbp_per_mwh
    # columns: g[0:n] c[n:2n] x[2n:3n] s[3n:4n] z[4n:5n]
    nv = 5 * n
    obj = np.zeros(nv)
    obj[:n] = cost
    obj[n:2 * n] = cost
    obj[2 * n:3 * n] = -p.vlp_gbp_per_mwh
    rows, lo, hi = [], [], []

    def row(entries, low, high):
        r = np.zeros(nv)
        for col, val in entries:
            r[col] += val
        rows.append(r)
        lo.append(low)
        hi.append(high)

    for t in range(n):
        row([(t, 1), (2 * n + t, 1)], p.demand_mwh[t], p.demand_mwh[t])  # g + x = d
        prev = [(3 * n + t - 1, -1)] if t else []
        row([(3 * n + t, 1), (n + t, -eff), (2 * n + t, 1), *prev], 0, 0)  # soc balance
        row([(n + t, 1), (4 * n + t, -b.charge_limit_mwh)], -np.inf, 0)  # c <= C z
        row([(2 * n + t, 1), (4 * n + t, b.discharge_limit_mwh)], -np.inf,
            b.discharge_limit_mwh)  # x <= X (1 - z)
    for day in np.unique(p.day_index):
        row([(2 * n + t, 1) for t in np.flatnonzero(p.day_index == day)], -np.inf,
            b.daily_discharge_limit_mwh)
    upper = np.concatenate([np.full(n, np.inf), np.full(n, b.charge_limit_mwh),
                            np.full(n, b.discharge_limit_mwh), np.full(n, b.capacity_mwh),
                            np.ones(n)])
    res = milp(obj, constraints=LinearConstraint(np.array(rows), lo, hi),
               integrality=np.concatenate([np.zeros(4 * n), np.ones(n)]),
               bounds=Bounds(np.zeros(nv), upper), options={"mip_rel_gap": 0})
    assert res.success
    return ppa * p.demand_mwh.sum() - res.fun


@st.composite
def instances(draw):
    n = draw(st.integers(1, 10))
    per_day = draw(st.sampled_from([2, 3, 5, 10]))
    price = st.floats(-100, 400, allow_nan=False).map(lambda v: round(v, 2))
    return problem(
        cost=[draw(price) for _ in range(n)],
        demand=[draw(st.floats(0, 2).map(lambda v: round(v, 3))) for _ in range(n)],
        band=[draw(st.integers(0, 2)) for _ in range(n)],
        days=[t // per_day for t in range(n)],
        vlp=draw(st.sampled_from([0.0, 15.0, 80.0])),
        power_mw=draw(st.sampled_from([0.5, 1.0, 3.0])),
        capacity_mwh=draw(st.sampled_from([0.25, 1.0, 2.0])),
        cycles=draw(st.sampled_from([0.5, 1.0, 2.0, 5.0])),
        efficiency=draw(st.sampled_from([0.7, 0.85, 1.0])),
    )


@settings(max_examples=60, deadline=None)
@given(p=instances())
def test_schedules_are_feasible_and_optimal_beats_the_rule_and_no_battery(p):
    greedy, optimal = D.greedy_schedule(p), D.optimal_schedule(p)
    assert D.feasibility_problems(p, greedy) == []
    assert D.feasibility_problems(p, optimal) == []
    best = D.profit_gbp(p, optimal, 150)
    assert best >= D.profit_gbp(p, greedy, 150) - 1e-6
    assert best >= D.profit_gbp(p, D.no_battery(p), 150) - 1e-6


@settings(max_examples=40, deadline=None)
@given(p=instances())
def test_optimum_equals_an_independent_milp(p):
    assert D.profit_gbp(p, D.optimal_schedule(p), 150) == pytest.approx(
        reference_optimum(p, 150), abs=2e-3)


def _summer_fortnight(warehouse):
    """A real fortnight (2023-07-17..30, North Western) on which the LP relaxation charges
    and discharges in the same period: negative and low prices at night."""
    import datetime as dt

    import pandas as pd

    from btm_ppa.core.demand import spread_annual_demand
    from btm_ppa.core.duos import assign_bands
    from btm_ppa.core.simulation import ChargeRates
    from btm_ppa.core.vocab import DuosBand
    from btm_ppa.prices import warehouse as wh
    from btm_ppa.reference import files as reference

    window = wh.PriceWindow(dt.date(2023, 7, 17), dt.date(2023, 7, 30), False)
    frame = wh.window_prices(warehouse, window, "B20", "B21").frame
    price = frame["system_buy_price_gbp_per_mwh"].interpolate().to_numpy()
    codes = assign_bands(reference.read_time_bands(), "_G", frame).codes
    rates = ChargeRates(
        duos_gbp_per_mwh={DuosBand.RED: 176.4, DuosBand.AMBER: 20.5, DuosBand.GREEN: 1.1},
        tnuos_gbp_per_mwh=0.0, bsuos_gbp_per_mwh=4.5, ccl_gbp_per_mwh=7.75, ro_gbp_per_mwh=61.9,
        fit_gbp_per_mwh=11.5)
    return D.DispatchProblem(
        spread_annual_demand(5500, frame, "_G"), rates.import_cost_gbp_per_mwh(price, codes),
        codes, pd.factorize(frame["settlement_date"])[0].astype(np.int64), 15.0,
        D.Battery(2.5, 2.5, 5.0, 1.0, 0.85))


def _hull_lp(p):
    model = DO._DispatchLp(p, hull=DO.simultaneity_pays(p))
    return model.solve(), model.stored_energy_value()


@pytest.mark.parametrize("relaxation", [_hull_lp, DO._network_relaxation],
                         ids=["highs-duals", "network-potentials"])
def test_window_repair_matches_the_full_milp_where_the_lp_does_both(warehouse, relaxation):
    p = _summer_fortnight(warehouse)
    pays = DO.simultaneity_pays(p)
    relaxed, value = relaxation(p)
    assert DO._both(relaxed, pays).size > 0  # the repair path is exercised
    repaired = DO._repair_windows(p, value, relaxed, pays, DO._both(relaxed, pays))
    assert repaired is not None
    full = DO._DispatchLp(p, hull=pays)
    full.add_exclusivity(np.flatnonzero(pays), DO._net(p, relaxed))
    exact = DO._net(p, full.solve())
    assert D.feasibility_problems(p, repaired) == []
    assert D.profit_gbp(p, repaired, 150) == pytest.approx(D.profit_gbp(p, exact, 150), abs=2e-3)
    assert D.profit_gbp(p, D.optimal_schedule(p), 150) == pytest.approx(
        D.profit_gbp(p, exact, 150), abs=2e-3)


@st.composite
def multi_day_instances(draw):
    days, per_day = draw(st.integers(2, 5)), 8
    n = days * per_day
    price = st.floats(-80, 250, allow_nan=False).map(lambda v: round(v, 2))
    return problem(
        cost=[draw(price) for _ in range(n)],
        demand=[draw(st.floats(0.05, 1.5).map(lambda v: round(v, 3))) for _ in range(n)],
        band=[draw(st.integers(0, 2)) for _ in range(n)],
        days=[t // per_day for t in range(n)],
        vlp=draw(st.sampled_from([15.0, 40.0, 120.0])),
        power_mw=draw(st.sampled_from([1.0, 2.5])),
        capacity_mwh=draw(st.sampled_from([0.5, 1.25, 2.0])),
        cycles=draw(st.sampled_from([0.5, 1.0, 3.0])),
        efficiency=draw(st.sampled_from([0.8, 0.9])),
    )


@settings(max_examples=30, deadline=None)
@given(p=multi_day_instances())
def test_optimum_equals_an_independent_milp_over_several_days(p):
    best = D.optimal_schedule(p)
    assert D.feasibility_problems(p, best) == []
    assert D.profit_gbp(p, best, 150) == pytest.approx(reference_optimum(p, 150), abs=2e-3)


def test_repair_pins_a_window_edge_the_free_milp_moved(monkeypatch):
    """A five-day instance (found by a random search like the property above) on which a
    repair window's free MILP optimum ends with other stored energy than the LP: the
    window is solved again with its edges pinned, and the joined schedule is still the
    exact optimum."""
    cost = [216.08, 175.98, -5.68, 19.05, 208.27, 0.0, 191.01, 183.03, 74.42, 20.0, 11.88,
            0.0, 66.88, 86.5, 0.0, 248.52, 181.58, 125.32, 246.36, -8.95, -27.13, 122.14, 0.0,
            -68.23, 89.91, 73.85, 0.0, 127.64, 89.66, 83.97, 1.68, -76.11, -16.51, 0.0, -13.8,
            41.95, -78.77, 193.92, 0.0, 0.0]
    demand = [1.395, 0.851, 0.312, 1.332, 0.98, 0.876, 0.596, 0.646, 0.397, 0.105, 1.321,
              0.728, 0.844, 0.517, 1.139, 0.087, 0.59, 0.094, 0.228, 1.452, 1.004, 0.671,
              0.809, 1.316, 0.549, 0.906, 1.041, 0.565, 0.803, 1.16, 1.368, 0.269, 1.403,
              0.058, 1.142, 1.225, 0.248, 0.657, 1.232, 0.071]
    bands = [int(b) for b in "1211221020000210011022121000201020121222"]
    p = problem(cost, demand, bands, [t // 8 for t in range(40)], vlp=120.0, power_mw=2.5,
                capacity_mwh=1.25, cycles=3.0, efficiency=0.8)
    pinned = []
    original = DO._DispatchLp.fix_boundary
    monkeypatch.setattr(DO._DispatchLp, "fix_boundary",
                        lambda self, *a: pinned.append(a) or original(self, *a))
    best = D.optimal_schedule(p)
    assert pinned  # the pinned solve ran
    assert D.feasibility_problems(p, best) == []
    assert D.profit_gbp(p, best, 150) == pytest.approx(reference_optimum(p, 150), abs=2e-3)


def _lp_dual_bound(p: D.DispatchProblem, value: np.ndarray) -> float:
    """The LP dual objective at stored-energy values λ, minimised over each day's price
    of its discharge cap ν >= 0 (written out independently of the network)."""
    b, eff = p.battery, p.battery.round_trip_efficiency_frac
    cost = p.import_cost_gbp_per_mwh
    gain = cost + p.vlp_gbp_per_mwh - value
    bound = (b.charge_limit_mwh * np.maximum(eff * value - cost, 0).sum()
             + b.capacity_mwh * np.maximum(np.append(value[1:], 0.0) - value, 0).sum())
    for day in np.unique(p.day_index):
        mine = p.day_index == day
        candidates = np.append(np.maximum(gain[mine], 0), 0.0)
        bound += min(b.daily_discharge_limit_mwh * nu
                     + p.discharge_cap_mwh[mine] @ np.maximum(gain[mine] - nu, 0)
                     for nu in candidates)
    return float(bound)


@settings(max_examples=40, deadline=None)
@given(p=multi_day_instances())
def test_network_relaxation_is_the_lp_optimum_and_its_potentials_prove_it(p):
    relaxed, value = DO._network_relaxation(p)
    lp = DO._DispatchLp(p)
    lp.solve()
    assert DO._battery_value(p, relaxed) == pytest.approx(lp.objective_gbp, abs=1e-6)
    # Weak duality makes any λ an upper bound; equality makes these λ optimal duals,
    # which is what the window repair's certificate needs.
    assert _lp_dual_bound(p, value) == pytest.approx(lp.objective_gbp, abs=1e-6)


@settings(max_examples=15, deadline=None)
@given(p=multi_day_instances())
def test_when_the_network_simplex_runs_out_of_pivots_highs_finds_the_same_optimum(p):
    solve, lp_solve, lp_solves = DO.solve_circulation, DO._DispatchLp.solve, []
    DO.solve_circulation = lambda *args, **kwargs: solve(*args[:6], max_pivots=0)
    DO._DispatchLp.solve = lambda self: lp_solves.append(self) or lp_solve(self)
    try:
        best = D.optimal_schedule(p)
    finally:
        DO.solve_circulation, DO._DispatchLp.solve = solve, lp_solve
    if DO._battery_value(p, best) > 0:  # the battery is used, so pivots were needed
        assert lp_solves
    assert D.feasibility_problems(p, best) == []
    assert D.profit_gbp(p, best, 150) == pytest.approx(reference_optimum(p, 150), abs=2e-3)


def test_without_the_compiled_solver_dispatch_uses_highs_alone(monkeypatch):
    p = problem([20, 100, 15, 90, 95, 10], band=[GREEN, RED, GREEN, AMBER, RED, GREEN],
                days=[0, 0, 0, 1, 1, 1], vlp=5.0, efficiency=0.9)
    monkeypatch.setattr(DO.network_simplex, "AVAILABLE", False)
    assert DO._network_relaxation(p) is None
    best = D.optimal_schedule(p)
    assert D.feasibility_problems(p, best) == []
    assert D.profit_gbp(p, best, 150) == pytest.approx(reference_optimum(p, 150), abs=2e-3)
