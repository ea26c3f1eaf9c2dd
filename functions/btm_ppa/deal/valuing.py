"""One battery size's figures in each price year: the method's schedule and the ceiling
(optimal, perfect foresight) beside it, at the usable capacities the fade passes through."""

from __future__ import annotations

from collections.abc import Sequence

from btm_ppa.core import deal_year as dy
from btm_ppa.core import dispatch
from btm_ppa.core.deal import Degradation
from btm_ppa.core.dispatch import daily
from btm_ppa.prices.price_years import ScenarioYear

#: The ceiling: perfect foresight of each price year, run beside any other method.
CEILING_METHOD = "optimal"
#: Methods the Deal tab can run (Deal!B31).
METHODS = ("realistic", "optimal", "greedy")

Points = dict[str, dict[float, dy.YearFigures]]


def schedule_of(method: str, problem: dispatch.DispatchProblem,
                forecast: daily.CostForecast | None, wear_gbp_per_mwh: float
                ) -> dispatch.Schedule:
    """A method's schedule, the wear cost (per MWh discharged) in its objective: optimal
    (perfect foresight of the year), realistic (a plan a day on the year's forecast) or
    greedy (the battery-first rule: it has no objective to put the wear in)."""
    if method == "optimal":
        return dispatch.optimal_dispatch(daily.with_wear(problem, wear_gbp_per_mwh)).schedule
    if method == "realistic":
        if forecast is None:
            raise ValueError("realistic needs the price year's forecast")
        return daily.daily_dispatch(problem, forecast,
                                    wear_gbp_per_mwh=wear_gbp_per_mwh).schedule
    if method == "greedy":
        return dispatch.greedy_schedule(problem)
    raise ValueError(f"unknown dispatch method {method!r}")


def valuation_points(degradation: Degradation) -> tuple[float, ...]:
    """Usable capacities to dispatch at: nameplate, the end-of-life threshold less a
    margin (a last year may end below it), and half way."""
    low = max(0.05, min(0.95, degradation.end_of_life_frac - 0.05))
    return (1.0, round((1.0 + low) / 2, 4), round(low, 4))


def year_points(s: ScenarioYear, method: str, power_kw: float, energy_kwh: float,
                capacities: Sequence[float], wear_gbp_per_mwh: float, ceiling: bool = False
                ) -> tuple[dict[float, dy.YearFigures], dict[float, dy.YearFigures]]:
    """One price year's figures at each usable capacity under ``method``, and under
    optimal (with ``ceiling``; the method's own figures when it is optimal). The ceiling
    is never below the method: where optimal's search left a gap and the method's
    schedule is worth more (wear included), that schedule is the ceiling's."""
    base = dy.sized(s.problem, power_kw / 1000.0, energy_kwh / 1000.0)
    main, top = {}, {}
    for c in capacities:
        faded = dy.sized(base, base.battery.discharge_power_mw, base.battery.capacity_mwh * c)
        schedule = schedule_of(method, faded, s.forecast, wear_gbp_per_mwh)
        main[c] = dy.year_figures(faded, schedule, s.price_gbp_per_mwh, s.rates,
                                  s.fixed_charges_gbp)
        if ceiling and method != CEILING_METHOD:
            worn = daily.with_wear(faded, wear_gbp_per_mwh)
            best, _ = daily.better_of(worn, dispatch.optimal_dispatch(worn), schedule)
            top[c] = dy.year_figures(faded, best.schedule, s.price_gbp_per_mwh, s.rates,
                                     s.fixed_charges_gbp)
    return main, (top if ceiling and method != CEILING_METHOD else main)


def figures_at(scenarios: Sequence[ScenarioYear], method: str, power_kw: float,
               energy_kwh: float, capacities: Sequence[float], wear_gbp_per_mwh: float = 0.0,
               ceiling: bool = False) -> tuple[Points, Points]:
    """Every scenario's figures at each usable capacity for a battery of this size, under
    the method and under optimal beside it (see ``year_points``)."""
    main: Points = {}
    top: Points = {}
    for s in scenarios:
        main[s.name], top[s.name] = year_points(s, method, power_kw, energy_kwh, capacities,
                                                wear_gbp_per_mwh, ceiling)
    return main, top


