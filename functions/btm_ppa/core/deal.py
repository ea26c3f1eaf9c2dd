"""The deal over its contract term: yearly cash flows with capacity fade, NPV, project
IRR, payback, LCOS, both parties' view and the PPA price band. Pure: no I/O.

Conventions (the Deal tab's notes and docs/ say the same):

- Year 0 is the contract start: the capex. Years 1..term are operating years; each year's
  cash flows fall at its end. NPV = sum(cf_t / (1 + r)^t), t = 0..term (as
  ``numpy_financial.npv``). IRR: the rate where NPV is 0, found by a bracketed root finder
  (``scipy.optimize.brentq``); undefined (None) where NPV does not change sign between
  -99 % and 1,000 %.
- Payback: the first time the cumulative net cash flow reaches 0, interpolated linearly
  within the year it does (years after the start); None if never within the term.
  Discounted payback: the same on discounted cash flows.
- A scenario is one price year held (its prices, charges and demand shape) repeated over
  every year of the term; only the battery's usable capacity (fade), the indexed prices
  (PPA, VLP, opex) and the replacements change from year to year.
- Usable capacity fades by a calendar share a year plus a share per equivalent full
  cycle (EFC: MWh discharged / nameplate MWh) the schedules make, or by a table of
  remaining capacity against cumulative EFC plus the calendar share. When it would end a
  year below the end-of-life threshold, the battery is replaced (the whole energy
  capacity) or augmented (the capacity lost) at that year's end, at the replacement
  £/kWh, and starts the next year at nameplate; never in the last year of the term.
- A year is valued at its mid-year usable capacity. The dispatch of a price year is run at
  a few usable capacities (``VALUATION_POINTS``) and every line is interpolated linearly
  between them (lines are near-linear in capacity; tests bound the error).
- The PPA price scales only the PPA revenue (demand is fixed, and no schedule depends on
  the PPA price), so cash flows are linear in it; the PPA price band solves
  P50 NPV(developer, at the hurdle IRR) = 0 and P50 NPV(site saving, at the site's
  discount rate) = 0 with brentq.
- VLP indexation: each schedule is made at the typed VLP price; the indexed price is
  applied to the same discharge (a feasible schedule, so a slightly conservative value).
- Percentiles: P50 is the median across scenarios; P90 is the value exceeded in 90 % of
  scenarios (the 10th percentile, the cautious one) and P10 the 90th percentile, both by
  linear interpolation (``numpy.percentile``'s default).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from btm_ppa.core.deal_year import YearFigures, interpolate
from btm_ppa.core.results import pennies

#: IRR bracket. [1]
IRR_LOW, IRR_HIGH = -0.99, 10.0
#: PPA price band search interval. [£/MWh]
PPA_BAND_LOW_GBP_PER_MWH, PPA_BAND_HIGH_GBP_PER_MWH = 0.0, 1_000.0


class Indexation(StrEnum):
    NONE = "none"
    CPI = "cpi"
    ESCALATOR = "escalator"


class EndOfLife(StrEnum):
    REPLACE = "replace"
    AUGMENT = "augment"


@dataclass(frozen=True)
class Indexed:
    """How a price moves over the term: not at all, with CPI, or by a fixed escalator."""

    kind: Indexation = Indexation.NONE
    escalator_frac_per_year: float = 0.0

    def factor(self, year: int, cpi_frac_per_year: float) -> float:
        """Multiplier of operating year ``year`` (1 = the first, unindexed)."""
        rate = {Indexation.NONE: 0.0, Indexation.CPI: cpi_frac_per_year,
                Indexation.ESCALATOR: self.escalator_frac_per_year}[self.kind]
        return (1.0 + rate) ** (year - 1)


@dataclass(frozen=True)
class Degradation:
    calendar_fade_frac_per_year: float = 0.01
    cycle_fade_frac_per_efc: float = 0.00004
    #: (cumulative EFC, remaining share of nameplate) points; replaces the per-cycle fade.
    table: tuple[tuple[float, float], ...] = ()
    end_of_life_frac: float = 0.7
    action: EndOfLife = EndOfLife.REPLACE
    replacement_gbp_per_kwh: float = 150.0

    def remaining_frac(self, cumulative_efc: float, years: float) -> float:
        """Usable share of nameplate after ``cumulative_efc`` cycles and ``years`` years
        since the battery (or its replacement) was new."""
        if self.table:
            efc, left = zip(*sorted(self.table), strict=True)
            by_cycles = float(np.interp(cumulative_efc, efc, left))
        else:
            by_cycles = 1.0 - self.cycle_fade_frac_per_efc * cumulative_efc
        return by_cycles - self.calendar_fade_frac_per_year * years


@dataclass(frozen=True)
class DealTerms:
    """Everything the deal's cash flows need besides the schedules."""

    term_years: int
    first_year: int  # calendar year of operating year 1 (for labels)
    power_kw: float
    energy_kwh: float  # nameplate
    capex_gbp_per_kw: float
    capex_gbp_per_kwh: float
    ppa_gbp_per_mwh: float
    vlp_gbp_per_mwh: float
    opex_gbp_per_kw_year: float = 0.0
    opex_pct_capex_per_year: float = 0.0
    insurance_gbp_per_year: float = 0.0
    business_rates_gbp_per_year: float = 0.0
    wear_gbp_per_mwh: float = 0.0  # per MWh discharged (throughput O&M, warranty)
    discount_rate_frac: float = 0.08
    hurdle_irr_frac: float = 0.10
    site_discount_rate_frac: float = 0.06
    cpi_frac_per_year: float = 0.02
    ppa_indexation: Indexed = field(default_factory=Indexed)
    vlp_indexation: Indexed = field(default_factory=Indexed)
    opex_indexation: Indexed = field(default_factory=lambda: Indexed(Indexation.CPI))
    #: The site's supply price without the deal: typed (£/MWh), or None for the scenario's
    #: own grid cost of the site's demand plus the supplier margin.
    counterfactual_gbp_per_mwh: float | None = None
    supplier_margin_gbp_per_mwh: float = 0.0
    counterfactual_indexation: Indexed = field(default_factory=Indexed)
    degradation: Degradation = field(default_factory=Degradation)

    @property
    def capex_gbp(self) -> float:
        return self.capex_gbp_per_kw * self.power_kw + self.capex_gbp_per_kwh * self.energy_kwh


#: Cash flow lines of a year, in the Deal tab's order (all £; costs negative).
LINES: tuple[str, ...] = (
    "ppa_revenue_gbp", "vlp_revenue_gbp", "energy_cost_gbp", "network_cost_gbp",
    "levies_cost_gbp", "wear_gbp", "opex_gbp", "insurance_and_rates_gbp", "capex_gbp",
)


@dataclass(frozen=True)
class CashFlowYear:
    year: int  # 0 = contract start
    calendar_year: int
    usable_capacity_frac: float  # mid-year (0 in year 0)
    efc: float  # equivalent full cycles of nameplate
    discharge_mwh: float
    lines: dict[str, float]  # LINES, each rounded to the penny
    site_saving_gbp: float  # against the counterfactual supply, rounded to the penny
    charging_cost_gbp: float

    @property
    def net_gbp(self) -> float:
        return float(sum(pennies(v) for v in self.lines.values()))


@dataclass(frozen=True)
class Metrics:
    npv_gbp: float
    irr_frac: float | None
    payback_years: float | None
    discounted_payback_years: float | None
    lcos_gbp_per_mwh: float | None
    site_npv_gbp: float


@dataclass(frozen=True)
class ScenarioResult:
    name: str  # the price year, e.g. "2023"
    years: tuple[CashFlowYear, ...]
    metrics: Metrics
    replacements: int

    @property
    def net_gbp(self) -> list[float]:
        return [y.net_gbp for y in self.years]


def npv_gbp(rate_frac: float, cash_flows: Sequence[float]) -> float:
    """sum(cf_t / (1 + r)^t) from t = 0."""
    t = np.arange(len(cash_flows))
    return float(np.sum(np.asarray(cash_flows, dtype=float) / (1.0 + rate_frac) ** t))


def irr_frac(cash_flows: Sequence[float]) -> float | None:
    """The rate at which the NPV is 0, within [-99 %, 1,000 %], or None without a sign
    change there (never pays back, or never costs anything)."""
    lo, hi = npv_gbp(IRR_LOW, cash_flows), npv_gbp(IRR_HIGH, cash_flows)
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo * hi > 0:
        return None
    if lo == 0:
        return IRR_LOW
    if hi == 0:
        return IRR_HIGH
    from scipy.optimize import brentq  # lazily: a cold start that values no deal skips it

    return float(brentq(lambda r: npv_gbp(r, cash_flows), IRR_LOW, IRR_HIGH, xtol=1e-12,
                        rtol=1e-12, maxiter=500))


def payback_years(cash_flows: Sequence[float], rate_frac: float = 0.0) -> float | None:
    """Years until the cumulative (discounted at ``rate_frac``) cash flow first reaches 0,
    interpolated within the year; 0 if it never goes below; None if never within the term."""
    flows = np.asarray(cash_flows, dtype=float) / (1.0 + rate_frac) ** np.arange(len(cash_flows))
    cumulative = np.cumsum(flows)
    if cumulative[0] >= 0:
        return 0.0
    for t in range(1, len(flows)):
        if cumulative[t] >= 0:
            return t - 1 + float(-cumulative[t - 1] / flows[t])
    return None


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """P10 (90th percentile), P50 (median) and P90 (10th percentile, exceeded in 90 %)."""
    v = np.asarray(values, dtype=float)
    return {"p10": float(np.percentile(v, 90)), "p50": float(np.percentile(v, 50)),
            "p90": float(np.percentile(v, 10))}


def _round(amount: float) -> float:
    return float(pennies(amount))


def scenario_cash_flows(name: str, points: Mapping[float, YearFigures], terms: DealTerms,
                        ppa_gbp_per_mwh: float | None = None) -> ScenarioResult:
    """The term's cash flows of one price year (``points``: its figures at a few usable
    capacities) under ``terms`` (``ppa_gbp_per_mwh`` overrides the terms' PPA price)."""
    ppa = terms.ppa_gbp_per_mwh if ppa_gbp_per_mwh is None else ppa_gbp_per_mwh
    deg = terms.degradation
    nameplate_mwh = terms.energy_kwh / 1000.0
    capex = terms.capex_gbp
    zero = dict.fromkeys(LINES, 0.0)
    years = [CashFlowYear(0, terms.first_year - 1, 0.0, 0.0, 0.0, {**zero, "capex_gbp": -_round(capex)},
                          0.0, 0.0)]
    base = points[max(points)]
    if terms.counterfactual_gbp_per_mwh is not None:
        counterfactual_base = terms.counterfactual_gbp_per_mwh
    else:
        counterfactual_base = (base.counterfactual_cost_gbp / base.demand_mwh
                               + terms.supplier_margin_gbp_per_mwh) if base.demand_mwh else 0.0
    cumulative_efc, age, replacements = 0.0, 0.0, 0
    for year in range(1, terms.term_years + 1):
        start = deg.remaining_frac(cumulative_efc, age)
        mid = start
        for _ in range(3):  # the mid-year capacity depends on the year's own cycles
            figures = interpolate(points, mid)
            efc = figures.discharge_mwh / nameplate_mwh if nameplate_mwh else 0.0
            mid = deg.remaining_frac(cumulative_efc + efc / 2, age + 0.5)
        figures = interpolate(points, mid)
        efc = figures.discharge_mwh / nameplate_mwh if nameplate_mwh else 0.0
        cumulative_efc += efc
        age += 1.0
        end = deg.remaining_frac(cumulative_efc, age)
        capex_line = 0.0
        if end < deg.end_of_life_frac and year < terms.term_years:
            lost_kwh = terms.energy_kwh * (1.0 if deg.action is EndOfLife.REPLACE
                                           else max(0.0, 1.0 - end))
            capex_line = -_round(lost_kwh * deg.replacement_gbp_per_kwh)
            cumulative_efc, age, replacements = 0.0, 0.0, replacements + 1
        ppa_y = ppa * terms.ppa_indexation.factor(year, terms.cpi_frac_per_year)
        vlp_y = terms.vlp_gbp_per_mwh * terms.vlp_indexation.factor(year, terms.cpi_frac_per_year)
        opex_factor = terms.opex_indexation.factor(year, terms.cpi_frac_per_year)
        opex = (terms.opex_gbp_per_kw_year * terms.power_kw
                + terms.opex_pct_capex_per_year / 100.0 * capex) * opex_factor
        lines = {
            "ppa_revenue_gbp": _round(ppa_y * figures.demand_mwh),
            "vlp_revenue_gbp": _round(vlp_y * figures.discharge_mwh),
            "energy_cost_gbp": -_round(figures.energy_cost_gbp),
            "network_cost_gbp": -_round(figures.network_cost_gbp),
            "levies_cost_gbp": -_round(figures.levies_cost_gbp),
            "wear_gbp": -_round(terms.wear_gbp_per_mwh * figures.discharge_mwh),
            "opex_gbp": -_round(opex),
            "insurance_and_rates_gbp": -_round(
                (terms.insurance_gbp_per_year + terms.business_rates_gbp_per_year) * opex_factor),
            "capex_gbp": capex_line,
        }
        counterfactual_y = counterfactual_base * terms.counterfactual_indexation.factor(
            year, terms.cpi_frac_per_year)
        saving = _round((counterfactual_y - ppa_y) * figures.demand_mwh)
        years.append(CashFlowYear(year, terms.first_year + year - 1, mid, efc,
                                  figures.discharge_mwh, lines, saving,
                                  _round(figures.charging_cost_gbp)))
    return ScenarioResult(name, tuple(years), _metrics(years, terms), replacements)


def _metrics(years: Sequence[CashFlowYear], terms: DealTerms) -> Metrics:
    net = [y.net_gbp for y in years]
    r = terms.discount_rate_frac
    discount = (1.0 + r) ** -np.arange(len(years))
    battery_cost = np.array([
        -(y.lines["capex_gbp"] + y.lines["opex_gbp"] + y.lines["insurance_and_rates_gbp"]
          + y.lines["wear_gbp"]) + y.charging_cost_gbp for y in years])
    energy = np.array([y.discharge_mwh for y in years])
    delivered = float(energy @ discount)
    return Metrics(
        npv_gbp=npv_gbp(r, net), irr_frac=irr_frac(net), payback_years=payback_years(net),
        discounted_payback_years=payback_years(net, r),
        lcos_gbp_per_mwh=float(battery_cost @ discount) / delivered if delivered > 0 else None,
        site_npv_gbp=npv_gbp(terms.site_discount_rate_frac,
                             [y.site_saving_gbp for y in years]))


@dataclass(frozen=True)
class PpaBand:
    """The PPA prices both parties accept: from the lowest at which the developer's P50
    IRR reaches the hurdle to the highest at which the site's P50 saving NPV is still 0 or
    more. None where no price in [0, 1,000] £/MWh does it."""

    developer_floor_gbp_per_mwh: float | None
    site_ceiling_gbp_per_mwh: float | None

    @property
    def exists(self) -> bool:
        lo, hi = self.developer_floor_gbp_per_mwh, self.site_ceiling_gbp_per_mwh
        return lo is not None and hi is not None and lo <= hi


def _root(f: Callable[[float], float]) -> float | None:
    lo, hi = PPA_BAND_LOW_GBP_PER_MWH, PPA_BAND_HIGH_GBP_PER_MWH
    f_lo, f_hi = f(lo), f(hi)
    if f_lo == 0:
        return lo
    if f_lo * f_hi > 0:
        return None
    from scipy.optimize import brentq

    return float(brentq(f, lo, hi, xtol=1e-6, rtol=1e-12, maxiter=200))


@dataclass(frozen=True)
class DealResult:
    terms: DealTerms
    scenarios: tuple[ScenarioResult, ...]
    npv: dict[str, float]  # p10/p50/p90
    irr: dict[str, float]  # p10/p50/p90 (an undefined IRR counts as -100 %)
    site_npv: dict[str, float]
    band: PpaBand
    net_band: dict[str, list[float]]  # p10/p50/p90 net cash flow of each year

    @property
    def shown(self) -> ScenarioResult:
        """The scenario whose NPV is nearest the P50 (the cash flow table shown)."""
        return min(self.scenarios, key=lambda s: (abs(s.metrics.npv_gbp - self.npv["p50"]),
                                                  s.name))


def irr_or_floor(value: float | None) -> float:
    """An undefined IRR (the cash flows never pay back) counts as -100 % in percentiles."""
    return -1.0 if value is None else value


def value_deal(points_by_scenario: Mapping[str, Mapping[float, YearFigures]],
               terms: DealTerms, band: bool = True) -> DealResult:
    """Every scenario's cash flows, the percentiles and the PPA price band."""
    if not points_by_scenario:
        raise ValueError("no scenario: at least one full price year is needed")
    scenarios = tuple(scenario_cash_flows(name, points, terms)
                      for name, points in sorted(points_by_scenario.items()))

    def at(ppa: float) -> list[ScenarioResult]:
        return [scenario_cash_flows(s.name, points_by_scenario[s.name], terms, ppa)
                for s in scenarios]

    def developer(ppa: float) -> float:
        return percentiles([npv_gbp(terms.hurdle_irr_frac, s.net_gbp) for s in at(ppa)])["p50"]

    def site(ppa: float) -> float:
        return percentiles([s.metrics.site_npv_gbp for s in at(ppa)])["p50"]

    prices = PpaBand(_root(developer), _root(site)) if band else PpaBand(None, None)
    nets = np.array([s.net_gbp for s in scenarios])
    net_band = {k: [percentiles(nets[:, t].tolist())[k] for t in range(nets.shape[1])]
                for k in ("p10", "p50", "p90")}
    return DealResult(
        terms=terms, scenarios=scenarios,
        npv=percentiles([s.metrics.npv_gbp for s in scenarios]),
        irr=percentiles([irr_or_floor(s.metrics.irr_frac) for s in scenarios]),
        site_npv=percentiles([s.metrics.site_npv_gbp for s in scenarios]),
        band=prices, net_band=net_band)


def with_size(terms: DealTerms, power_kw: float, duration_h: float) -> DealTerms:
    return replace(terms, power_kw=power_kw, energy_kwh=power_kw * duration_h)
