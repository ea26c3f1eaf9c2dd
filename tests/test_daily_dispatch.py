"""Daily plans (``realistic`` and the daily perfect-foresight arm), price forecasts, wear.

Synthetic but GB-shaped years (seeded): a price with a daily shape, weekends and noise,
DUoS bands by local time, a commercial-looking demand. Properties, not figures. The
year-long ones are in the integration tier (seconds each), the rest unit."""

import datetime as dt

import numpy as np
import pytest

from btm_ppa.core import dispatch as D
from btm_ppa.core import forecast as F
from btm_ppa.core import periods
from btm_ppa.core.dispatch import daily as R
from btm_ppa.core.wear import WearInputs, capital_recovery_factor, wear_cost_gbp_per_mwh

RED, AMBER, GREEN = 0, 1, 2


def year_frame(start=dt.date(2023, 1, 1), end=dt.date(2023, 12, 31)):
    return periods.settlement_periods(start, end)


def synthetic_prices(frame, seed=7):
    rng = np.random.default_rng(seed)
    slot = frame[periods.LOCAL_SLOT].to_numpy()
    weekend = frame[periods.IS_WEEKEND].to_numpy()
    shape = 60 + 40 * np.exp(-((slot - 36) / 4.0) ** 2) - 20 * np.exp(-((slot - 8) / 5.0) ** 2)
    return shape - 10 * weekend + rng.normal(0, 25, len(slot))


def bands_of(frame):
    slot = frame[periods.LOCAL_SLOT].to_numpy()
    weekend = frame[periods.IS_WEEKEND].to_numpy()
    band = np.full(len(slot), GREEN, dtype=np.int8)
    band[(slot >= 14) & (slot < 44)] = AMBER
    band[(slot >= 32) & (slot < 38) & ~weekend] = RED
    return band


def site(frame, price, *, cycles=1.0, efficiency=0.85, vlp=10.0, power_mw=1.0, hours=2.0,
         demand_mw=2.0, import_limit=None):
    band = bands_of(frame)
    known = np.array([120.0, 20.0, 3.0])[band] + 40.0  # DUoS by band + levies
    slot = frame[periods.LOCAL_SLOT].to_numpy()
    demand = demand_mw / 2 * (0.6 + 0.4 * ((slot >= 14) & (slot < 40)))
    days = np.unique(frame[periods.SETTLEMENT_DATE].to_numpy(), return_inverse=True)[1]
    problem = D.DispatchProblem(
        demand_mwh=demand, import_cost_gbp_per_mwh=known + price, band_code=band,
        day_index=days.astype(np.int64), vlp_gbp_per_mwh=vlp,
        battery=D.Battery(power_mw, power_mw, power_mw * hours, cycles, efficiency),
        site_import_limit_mwh=import_limit)
    return problem, known


def realistic(frame, price, kind, problem, known, day_ahead=None, wear=0.0):
    day = problem.day_index
    slot = frame[periods.LOCAL_SLOT].to_numpy()
    weekend = frame[periods.IS_WEEKEND].to_numpy()
    grid = F.day_grid(day, slot, price, weekend, int(day[-1]) + 1)
    ahead = None if day_ahead is None else F.day_grid(day, slot, day_ahead, weekend,
                                                      int(day[-1]) + 1)
    same, after, _ = F.forecast_grids(kind, grid, 0, ahead)
    forecast = R.forecast_costs(known, F.per_period(same, day, slot),
                                F.per_period(after, day, slot))
    return R.daily_dispatch(problem, forecast, wear_gbp_per_mwh=wear)


@pytest.fixture(scope="module")
def year():
    frame = year_frame()
    return frame, synthetic_prices(frame)


@pytest.mark.parametrize("kind", list(F.PriceForecast))
def test_a_price_changed_after_a_decision_changes_no_decision_committed_before_it(year, kind):
    frame, price = year
    rng = np.random.default_rng(1)
    day_ahead = price + rng.normal(0, 10, len(price))
    problem, known = site(frame, price, cycles=1.5)
    before = realistic(frame, price, kind, problem, known, day_ahead).schedule
    # Prices published from 1 October 00:00 on change: the imbalance prices of periods
    # from then, and the day-ahead prices of delivery days auctioned after it (from 2 Oct).
    start = frame[periods.START_TIME_UTC]
    moment = np.datetime64("2023-09-30T23:00")  # 1 Oct 00:00 BST
    later = (start.dt.tz_localize(None) >= moment).to_numpy()
    auctioned_later = (frame[periods.SETTLEMENT_DATE] >= dt.date(2023, 10, 2)).to_numpy()
    shaken = price + np.where(later, rng.normal(0, 80, len(price)), 0.0)
    shaken_ahead = day_ahead + np.where(auctioned_later, rng.normal(0, 80, len(price)), 0.0)
    problem2, _ = site(frame, shaken, cycles=1.5)
    after = realistic(frame, shaken, kind, problem2, known, shaken_ahead).schedule
    # Day D is decided at 11:00 on D-1: every day up to 1 October was decided before.
    committed = (frame[periods.SETTLEMENT_DATE] <= dt.date(2023, 10, 1)).to_numpy()
    for got, want in ((after.charge_mwh, before.charge_mwh),
                      (after.discharge_mwh, before.discharge_mwh)):
        np.testing.assert_array_equal(got[committed], want[committed])
    # ... and the test can fail: later decisions did change.
    assert not np.array_equal(after.discharge_mwh[~committed], before.discharge_mwh[~committed])


@pytest.mark.slow
def test_optimal_then_daily_perfect_foresight_then_realistic(year):
    frame, price = year
    for cycles, efficiency, vlp in ((1.0, 0.85, 10.0), (2.0, 0.9, 40.0), (0.5, 0.75, 0.0)):
        problem, known = site(frame, price, cycles=cycles, efficiency=efficiency, vlp=vlp)
        best = D.optimal_dispatch(problem)
        daily = R.daily_dispatch(problem)
        values = [R.schedule_value(problem, s).value_gbp for s in (
            best.schedule, daily.schedule,
            realistic(frame, price, F.PriceForecast.PROFILE_28, problem, known).schedule)]
        assert best.bound_gbp + 1e-6 >= values[0]
        assert values[0] >= values[1] - 1e-6 >= values[2] - 1e-6, values
        for s in (daily.schedule,):
            assert not D.feasibility_problems(problem, s)


@pytest.mark.unit
def test_a_daily_plan_over_the_whole_window_is_the_optimum():
    # Two days, planned over both (horizon 2) with leftover energy worth nothing: day 0's
    # plan is the optimum, and day 1 re-planned from the state of charge it left keeps
    # it (Bellman): the daily arm's value equals the optimum's. The cycle limit binds,
    # so the second plan goes through the whole optimiser from a non-empty battery.
    rng = np.random.default_rng(3)
    frame = year_frame(dt.date(2023, 3, 1), dt.date(2023, 3, 2))
    price = synthetic_prices(frame, seed=11) + rng.normal(0, 40, len(frame))
    problem, _ = site(frame, price, cycles=1.0, hours=4.0, demand_mw=4.0)
    best = D.optimal_dispatch(problem)
    assert best.proven
    daily = R.daily_dispatch(problem, terminal=R.TerminalValue.NOTHING, horizon_days=2)
    assert daily.limited_plans >= 1
    assert not D.feasibility_problems(problem, daily.schedule)
    assert daily.schedule.soc_mwh[problem.day_index == 0][-1] > 0.1  # day 1 starts charged
    assert R.schedule_value(problem, daily.schedule).value_gbp == pytest.approx(
        best.value_gbp, abs=1e-6)


def test_a_plan_starts_from_the_state_of_charge_carried(year):
    frame, price = year
    problem, known = site(frame, price, cycles=2.0, hours=4.0)
    result = realistic(frame, price, F.PriceForecast.PERSISTENCE_DAY, problem, known)
    s = result.schedule
    assert not D.feasibility_problems(problem, s)
    eff = problem.battery.round_trip_efficiency_frac
    np.testing.assert_allclose(s.soc_mwh, np.cumsum(eff * s.charge_mwh - s.discharge_mwh))
    ends = np.flatnonzero(np.diff(problem.day_index))
    assert (s.soc_mwh[ends] > 1e-3).any()  # some days hand energy on to the next


def test_demand_forecast_errors_are_cut_back_to_what_the_site_allows(year):
    frame, price = year
    problem, _ = site(frame, price, cycles=1.0, import_limit=1.2)
    day = problem.day_index
    slot = frame[periods.LOCAL_SLOT].to_numpy()
    weekend = frame[periods.IS_WEEKEND].to_numpy()
    rng = np.random.default_rng(5)
    noisy = problem.demand_mwh * rng.uniform(0.5, 1.5, problem.periods)
    problem = D.DispatchProblem(noisy, problem.import_cost_gbp_per_mwh, problem.band_code, day,
                                problem.vlp_gbp_per_mwh, problem.battery, 1.2)
    guess = F.demand_last_week(noisy, day, slot, weekend)
    np.testing.assert_array_equal(guess[day == 20], noisy[day == 13])
    np.testing.assert_array_equal(guess[day == 3], noisy[day == 3])  # first week: its own
    forecast = R.CostForecast(problem.import_cost_gbp_per_mwh, problem.import_cost_gbp_per_mwh,
                              guess)
    result = R.daily_dispatch(problem, forecast)
    assert not D.feasibility_problems(problem, result.schedule)
    assert result.schedule.discharge_mwh.sum() > 0


@pytest.mark.unit
def test_with_a_wear_cost_the_battery_does_not_cycle_for_pennies():
    # A spread worth £6/MWh after losses: cycled without wear, left idle at £10/MWh wear.
    frame = year_frame(dt.date(2023, 5, 1), dt.date(2023, 5, 7))
    slot = frame[periods.LOCAL_SLOT].to_numpy()
    days = np.unique(frame[periods.SETTLEMENT_DATE].to_numpy(), return_inverse=True)[1]
    problem = D.DispatchProblem(
        np.ones(len(slot)), np.where((slot >= 34) & (slot < 38), 46.0, 40.0),
        np.full(len(slot), GREEN, np.int8), days.astype(np.int64), 0.0,
        D.Battery(1.0, 1.0, 2.0, 1.0, 1.0))
    assert D.optimal_dispatch(problem).schedule.discharge_mwh.sum() > 1.0
    for wear in (10.0, D.PROFIT_TOLERANCE_GBP + 6.0):
        seen = R.with_wear(problem, wear)
        assert D.optimal_dispatch(seen).schedule.discharge_mwh.sum() < 1e-9
        assert R.daily_dispatch(problem, wear_gbp_per_mwh=wear).schedule.discharge_mwh.sum() \
            < 1e-9
    # At £5/MWh wear it still pays (£1/MWh net).
    assert D.optimal_dispatch(R.with_wear(problem, 5.0)).schedule.discharge_mwh.sum() > 1.0


@pytest.mark.unit
def test_wear_is_net_of_the_value_and_cycles_count_discharge():
    frame = year_frame(dt.date(2023, 1, 2), dt.date(2023, 1, 8))
    problem, _ = site(frame, synthetic_prices(frame), cycles=1.0)
    s = D.optimal_dispatch(problem).schedule
    v = R.schedule_value(problem, s, wear_gbp_per_mwh=20.0, ppa_gbp_per_mwh=150.0)
    assert v.wear_cost_gbp == pytest.approx(20.0 * s.discharge_mwh.sum())
    assert v.net_value_gbp == pytest.approx(v.value_gbp - v.wear_cost_gbp)
    assert v.equivalent_full_cycles == pytest.approx(s.discharge_mwh.sum() / 2.0)
    assert v.cycles_per_year == pytest.approx(v.equivalent_full_cycles * 365.25 / 7)
    assert v.profit_gbp == pytest.approx(D.profit_gbp(problem, s, 150.0))
    assert v.value_gbp == pytest.approx(D.battery_value_gbp(problem, s))


@pytest.mark.unit
def test_wear_cost_from_replacement_cost_cycle_life_and_rate():
    # By hand: £100/kWh = £100,000/MWh; 6,000 cycles at 365 a year = 16.44 years; a MWh
    # of capacity delivers 365 x 0.85 MWh a year; the annuity repays 100,000 over the life.
    w = wear_cost_gbp_per_mwh(WearInputs())
    years = 6000 / 365
    pv_of_annuity = sum(1.08 ** -y for y in range(1, 17)) + (years - 16) * 1.08 ** -17
    assert w == pytest.approx(100_000 / pv_of_annuity / (365 * 0.85), rel=0.01)
    assert wear_cost_gbp_per_mwh(WearInputs(discount_rate_frac=0.0)) == pytest.approx(
        100_000 / (6000 * 0.85))
    assert capital_recovery_factor(0.0, 10) == pytest.approx(0.1)
    assert wear_cost_gbp_per_mwh(WearInputs(discount_rate_frac=0.12)) > w
    with pytest.raises(ValueError, match="cycle life"):
        wear_cost_gbp_per_mwh(WearInputs(cycle_life=0))


@pytest.mark.unit
def test_forecasts_use_only_days_known_at_the_decision():
    frame = year_frame(dt.date(2023, 1, 1), dt.date(2023, 3, 31))
    day = np.unique(frame[periods.SETTLEMENT_DATE].to_numpy(), return_inverse=True)[1]
    slot = frame[periods.LOCAL_SLOT].to_numpy()
    weekend = frame[periods.IS_WEEKEND].to_numpy()
    # Each day's price is its day number: a forecast's value says which day it came from.
    grid = F.day_grid(day, slot, day.astype(float), weekend, int(day[-1]) + 1)
    same, after, _ = F.forecast_grids(F.PriceForecast.PERSISTENCE_DAY, grid, 0)
    assert same[40, 20] == 38 and after[40, 20] == 37
    same, after, _ = F.forecast_grids(F.PriceForecast.PERSISTENCE_WEEK, grid, 0)
    assert same[40, 20] == 33 and after[40, 20] == 34
    same, _, _ = F.forecast_grids(F.PriceForecast.PROFILE_7, grid, 0)
    assert same[40, 20] == pytest.approx(np.mean(range(32, 39)))
    same, _, _ = F.forecast_grids(F.PriceForecast.PROFILE_28, grid, 0)
    weekday_days = [d for d in range(11, 39) if not grid.weekend[d]]
    assert not grid.weekend[40]
    assert same[40, 20] == pytest.approx(np.mean(weekday_days))
    # The first days, with nothing known, stand in 0 (the bands and levies alone).
    assert same[0, 20] == 0.0
    ahead = F.day_grid(day, slot, 1000.0 + day, weekend, int(day[-1]) + 1)
    same, after, _ = F.forecast_grids(F.PriceForecast.DAY_AHEAD, grid, 0, ahead)
    assert same[40, 20] == 1040 and after[40, 20] == 1039


@pytest.mark.unit
def test_forecast_names_parse_loosely():
    assert F.PriceForecast.parse("Profile-28d") is F.PriceForecast.PROFILE_28
    assert F.PriceForecast.parse("day ahead") is F.PriceForecast.DAY_AHEAD
    assert F.PriceForecast.parse("tomorrow") is None


@pytest.mark.unit
def test_optimal_takes_a_better_feasible_schedule_found_by_the_daily_arm():
    # An answer left with a gap holds the best schedule its search found; a feasible
    # schedule worth more replaces it, the bound stays; worse or infeasible ones do not.
    frame = year_frame(dt.date(2023, 1, 2), dt.date(2023, 1, 4))
    problem, _ = site(frame, synthetic_prices(frame), cycles=1.0)
    best = D.optimal_dispatch(problem)
    rule = D.greedy_schedule(problem)
    weak = D.OptimalResult(rule, D.battery_value_gbp(problem, rule), best.bound_gbp, 1)
    taken, used = R.better_of(problem, weak, best.schedule)
    assert used and taken.value_gbp == pytest.approx(best.value_gbp)
    assert taken.bound_gbp == best.bound_gbp and taken.schedule is best.schedule
    kept, used = R.better_of(problem, best, rule)
    assert not used and kept is best
    broken = D.Schedule(best.schedule.charge_mwh * 3, best.schedule.discharge_mwh * 3,
                        best.schedule.soc_mwh * 3)
    assert R.better_of(problem, weak, broken) == (weak, False)
