"""Optimal dispatch over a wide distribution of sites, its corners and five-year windows.

Run with ``python benchmarks/wide.py`` (``make bench`` runs it after ``distribution.py``);
results go to stdout and ``benchmarks/WIDE.md``. Nothing here is a test: targets are
reported, never asserted.

Each random site-year: one of the 14 DNO areas (each equally often, its own DUoS time
bands and bank holidays); one of three years (2018, 2023, and June 2023 to May 2024) on
system buy or market index prices (2018: system buy, the only basis held there);
discharge power 0.1-50 MW (log-uniform) and charge power drawn apart from it (0.5-2 times
it, within 0.1-50 MW); duration 0.5-8 h; 1-4 cycles a day; round-trip efficiency 70-95 %;
VLP £0-50/MWh; DUoS Red £20-300, Amber £2-40, Green £0.1-10 and levies £10-120 per MWh;
demand 100-50,000 MWh/yr (log-uniform) in one of eight load shapes; no site import
limit, a loose one (peak demand plus the charge power) or a tight one (peak demand x
1.05-1.5). The 32 corners: power 0.1 or 50 MW, 0.5 or 8 h, 1 or 4 cycles, 70 or 95 %,
100 or 50,000 MWh/yr (VLP £50, 2023, middle charges, no import limit). Five-year
windows: the site's year repeated five times.

Each optimisation is given the refresh's solve budget (``--budget``, 20 s) as its deadline;
its bound is checked against no other solver here (``tests/`` do that), but every schedule
is checked for feasibility and its value recomputed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# isort: off
import btm_ppa  # noqa: F401  (before numpy: it keeps numpy's BLAS to one thread)
# isort: on
import numpy as np
import pandas as pd

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.core import dispatch as D
from btm_ppa.core import periods
from btm_ppa.core.demand import default_shape_weights
from btm_ppa.core.dispatch import value_function
from btm_ppa.core.duos import assign_bands
from btm_ppa.core.prices import PriceBasis
from btm_ppa.prices import warehouse as wh
from btm_ppa.reference import files as reference

ROOT = Path(__file__).resolve().parents[1]

YEARS = {"2018": (dt.date(2018, 1, 1), dt.date(2018, 12, 31)),
         "2023": (dt.date(2023, 1, 1), dt.date(2023, 12, 31)),
         "2023-24": (dt.date(2023, 6, 1), dt.date(2024, 5, 31))}
SHAPES = ("workday", "flat", "three shifts", "evening", "night", "weekend", "winter",
          "summer")
LIMITS = ("none", "loose", "tight")


@dataclass(frozen=True)
class Site:
    number: int
    gsp_group: str
    year: str
    basis: PriceBasis
    discharge_mw: float
    charge_mw: float
    duration_h: float
    cycles_per_day: float
    efficiency: float
    vlp_gbp_per_mwh: float
    duos_gbp_per_mwh: tuple[float, float, float]  # red, amber, green
    levies_gbp_per_mwh: float
    demand_mwh_per_year: float
    shape: str
    limit: str
    limit_factor: float = 1.0

    def describe(self) -> str:
        r, a, g = self.duos_gbp_per_mwh
        return (f"{self.gsp_group} {self.year} {self.basis.value}, "
                f"{self.discharge_mw:.2f}/{self.charge_mw:.2f} MW x {self.duration_h:.2f} h, "
                f"{self.cycles_per_day:.2f} cycles/day, {self.efficiency:.0%}, "
                f"VLP £{self.vlp_gbp_per_mwh:.1f}, DUoS £{r:.0f}/{a:.1f}/{g:.1f}, "
                f"levies £{self.levies_gbp_per_mwh:.0f}, "
                f"{self.demand_mwh_per_year:,.0f} MWh/yr {self.shape}, limit {self.limit}")


def draw_sites(count: int, seed: int) -> list[Site]:
    rng = np.random.default_rng(seed)
    groups = [g.gsp_group_id for g in reference.read_gsp_groups()]
    areas = [groups[i % len(groups)] for i in range(count)]
    rng.shuffle(areas)
    sites = []
    for i, area in enumerate(areas):
        discharge = float(np.exp(rng.uniform(np.log(0.1), np.log(50))))
        charge = float(np.clip(discharge * np.exp(rng.uniform(np.log(0.5), np.log(2))), 0.1, 50))
        sites.append(Site(
            number=i, gsp_group=area, year=(year := str(rng.choice(list(YEARS)))),
            # The warehouse holds market index prices from 2023 on only.
            basis=PriceBasis.MARKET_INDEX if rng.uniform() >= 0.5 and year != "2018"
            else PriceBasis.SYSTEM_BUY,
            discharge_mw=discharge, charge_mw=charge,
            duration_h=float(rng.uniform(0.5, 8.0)),
            cycles_per_day=float(rng.uniform(1.0, 4.0)),
            efficiency=float(rng.uniform(0.70, 0.95)),
            vlp_gbp_per_mwh=float(rng.uniform(0, 50)),
            duos_gbp_per_mwh=(float(rng.uniform(20, 300)), float(rng.uniform(2, 40)),
                              float(rng.uniform(0.1, 10))),
            levies_gbp_per_mwh=float(rng.uniform(10, 120)),
            demand_mwh_per_year=float(np.exp(rng.uniform(np.log(100), np.log(50_000)))),
            shape=str(rng.choice(SHAPES)), limit=str(rng.choice(LIMITS)),
            limit_factor=float(rng.uniform(1.05, 1.5))))
    return sites


def corner_sites(first_number: int) -> list[Site]:
    corners = []
    for k, (power, hours, cycles, eff, demand) in enumerate(itertools.product(
            (0.1, 50.0), (0.5, 8.0), (1.0, 4.0), (0.70, 0.95), (100.0, 50_000.0))):
        corners.append(Site(first_number + k, "_C", "2023", PriceBasis.SYSTEM_BUY, power, power,
                            hours, cycles, eff, 50.0, (150.0, 20.0, 5.0), 60.0, demand,
                            "workday", "none"))
    return corners


def shape_weights(shape: str, frame: pd.DataFrame, gsp_group: str) -> np.ndarray:
    """Relative load per period for one of the eight shapes."""
    slot = frame[periods.LOCAL_SLOT].to_numpy()
    hour = slot / 2.0
    weekend = frame[periods.IS_WEEKEND].to_numpy()
    month = pd.to_datetime(frame[periods.SETTLEMENT_DATE]).dt.month.to_numpy()
    if shape == "workday":
        return default_shape_weights(frame, gsp_group)
    if shape == "flat":
        return np.ones(len(frame))
    if shape == "three shifts":  # round the clock, a dip at the 06:00 and 22:00 changes
        return np.where((hour == 6) | (hour == 22), 0.7, 1.0) * np.where(weekend, 0.8, 1.0)
    if shape == "evening":  # retail and homes: 17:00-21:00 peak
        return 0.3 + 0.7 * np.exp(-0.5 * ((hour - 19) / 2.0) ** 2)
    if shape == "night":  # cold stores, night-time pumping
        return np.where((hour >= 23) | (hour < 7), 1.0, 0.25)
    if shape == "weekend":  # leisure
        return np.where(weekend, 1.0, 0.3) * (0.4 + 0.6 * ((hour >= 9) & (hour < 21)))
    if shape == "winter":  # heating
        return (1.0 + 0.8 * np.cos((month - 1) / 12 * 2 * np.pi)) * default_shape_weights(
            frame, gsp_group)
    if shape == "summer":  # cooling
        return (1.0 - 0.8 * np.cos((month - 1) / 12 * 2 * np.pi)) * default_shape_weights(
            frame, gsp_group)
    raise ValueError(shape)


class Prices:
    """Each year's prices on each basis, bands and day numbers (cached)."""

    def __init__(self, warehouse: DuckDbWarehouse) -> None:
        self.warehouse = warehouse
        self._frames: dict[tuple[str, PriceBasis], tuple[pd.DataFrame, np.ndarray]] = {}
        self._bands: dict[tuple[str, str], np.ndarray] = {}
        self._table = reference.read_time_bands()

    def prices(self, year: str, basis: PriceBasis) -> tuple[pd.DataFrame, np.ndarray]:
        if (year, basis) not in self._frames:
            window = wh.PriceWindow(*YEARS[year], False)
            # The frame holds both bases; fetched on system buy (complete), so the market
            # index's runs of more than 4 missing periods in 2023 (which a refresh refuses)
            # are filled linearly here, as this benchmark always did.
            got = wh.window_prices(self.warehouse, window, "B20", "B21")
            price = got.frame[basis.column].interpolate(limit_direction="both").to_numpy()
            self._frames[year, basis] = (got.frame, price)
        return self._frames[year, basis]

    def problem(self, site: Site, repeat: int = 1) -> D.DispatchProblem:
        frame, price = self.prices(site.year, site.basis)
        if (site.year, site.gsp_group) not in self._bands:
            self._bands[site.year, site.gsp_group] = assign_bands(
                self._table, site.gsp_group, frame).codes
        codes = self._bands[site.year, site.gsp_group]
        weights = shape_weights(site.shape, frame, site.gsp_group)
        days = pd.factorize(frame[periods.SETTLEMENT_DATE])[0].astype(np.int64)
        demand = site.demand_mwh_per_year * (days[-1] + 1) / 365.0 * weights / weights.sum()
        cost = price + np.array(site.duos_gbp_per_mwh)[codes] + site.levies_gbp_per_mwh
        if repeat > 1:
            span = days[-1] + 1
            cost, codes, demand = (np.tile(a, repeat) for a in (cost, codes, demand))
            days = np.concatenate([days + k * span for k in range(repeat)])
        limit = None
        if site.limit == "loose":
            limit = float(demand.max()) + site.charge_mw / 2
        elif site.limit == "tight":
            limit = float(demand.max()) * site.limit_factor
        battery = D.Battery(site.charge_mw, site.discharge_mw, site.discharge_mw * site.duration_h,
                            site.cycles_per_day, site.efficiency)
        return D.DispatchProblem(demand, cost, codes, days, site.vlp_gbp_per_mwh, battery, limit)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def solve(problem: D.DispatchProblem, budget_s: float) -> dict:
    started, cpu = time.perf_counter(), time.process_time()
    try:
        result = D.optimal_dispatch(problem, deadline=time.monotonic() + budget_s)
    except D.DeadlineExceeded:
        result = None
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if result is None:
        return {"s": seconds, "cpu": cpu, "gap": float("inf"), "rel": float("inf"), "bounded": False,
                "source": "none", "cut": "deadline", "rounds": 0, "broken": "", "value": 0.0}
    value = D.battery_value_gbp(problem, result.schedule)
    broken = "; ".join(D.feasibility_problems(problem, result.schedule))
    if abs(value - result.value_gbp) > 1e-6 * max(1.0, abs(value)):
        broken += f"; value stated £{result.value_gbp:.2f}, recomputed £{value:.2f}"
    bounded = bool(np.isfinite(result.bound_gbp))
    return {"s": seconds, "cpu": cpu, "gap": result.gap_gbp,
            "rel": result.gap_gbp / max(abs(result.bound_gbp), 1e-9) if bounded else float("inf"),
            "bounded": bounded, "source": result.source, "cut": result.cut_short,
            "rounds": result.rounds, "broken": broken, "value": value}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=320)
    parser.add_argument("--corners", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--five-year-sites", type=int, default=40)
    parser.add_argument("--seed", type=int, default=2222)
    parser.add_argument("--budget", type=float, default=20.0,
                        help="seconds one optimisation may take (the refresh's solve budget)")
    parser.add_argument("--only", type=int, nargs="*", help="site numbers to run (debugging)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "WIDE.md")
    args = parser.parse_args()

    prices = Prices(DuckDbWarehouse(Path(tempfile.mkdtemp()) / "bench.duckdb"))
    sites = draw_sites(args.sites, args.seed)
    corners = corner_sites(args.sites) if args.corners else []
    if args.only is not None:
        sites = [s for s in sites if s.number in args.only]
        corners = [s for s in corners if s.number in args.only]
    load = os.getloadavg()
    lines = [f"# Optimal dispatch over the wide distribution ({dt.date.today()}, "
             f"{platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}, programme {value_function.DEFAULT_KERNEL}; load "
             f"average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})", ""]

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    def run(group: list[Site], repeat: int = 1) -> list[dict]:
        rows = []
        for site in group:
            problem = prices.problem(site, repeat)
            row = {"site": site, **solve(problem, args.budget)}
            rows.append(row)
            print(f"{'5y ' if repeat > 1 else ''}site {site.number:3d} {row['s']:7.3f} s "
                  f"cpu {row['cpu']:7.3f} "
                  f"rounds {row['rounds']} gap £{row['gap']:.2f} ({row['rel']:.3%}) "
                  f"{row['source']} {row['cut']}  {site.describe()}", file=sys.stderr, flush=True)
        return rows

    def summary(name: str, rows: list[dict], targets: str) -> None:
        times = [r["s"] for r in rows]
        if not rows:
            return
        gaps = [r for r in rows if r["gap"] > D.PROFIT_TOLERANCE_GBP]
        worst = max(rows, key=lambda r: r["rel"])
        cpu = [r["cpu"] for r in rows]
        say(f"| {name} | {len(rows)} | {statistics.median(times):.3f} s | "
            f"{percentile(times, 95):.3f} s | {max(times):.3f} s | "
            f"{statistics.median(cpu):.3f} / {percentile(cpu, 95):.3f} / {max(cpu):.3f} s | "
            f"{targets} | "
            f"{sum(not r['bounded'] for r in rows)} | {len(gaps)} | {worst['rel']:.4%} | "
            f"{sum(1 for r in rows if r['cut'])} | {sum(1 for r in rows if r['broken'])} |")

    random_rows = run(sites)
    corner_rows = run(corners)
    five_rows = run(sites[:args.five_year_sites], repeat=5) if args.five_year_sites else []

    say(f"Seed {args.seed}; each optimisation given {args.budget:g} s "
        "(`benchmarks/wide.py`). Wall-clock times on a shared machine, and the process's "
        "CPU time, which other loads barely change. Relative gap: the certified gap over "
        "the bound (the battery's value at most).")
    say()
    say("| what | count | median | p95 | max | CPU median / p95 / max | target "
        "| without a bound | with a gap | largest relative gap | cut short | infeasible |")
    say("|---|---|---|---|---|---|---|---|---|---|---|---|")
    summary("random site-years", random_rows, "p95 <= 0.25 s, max <= 1 s")
    small = [r for r in random_rows if r["site"].demand_mwh_per_year < 1000
             and r["site"].discharge_mw * r["site"].duration_h * 365 > r["site"].demand_mwh_per_year]
    summary("... under 1 GWh/yr, battery larger than a day's use", small, "as above")
    summary("corners", corner_rows, "as above")
    summary("five-year windows", five_rows, "max <= 5 s")
    say()
    for name, rows in (("site-years and corners", random_rows + corner_rows),
                       ("five-year windows", five_rows)):
        if not rows:
            continue
        say(f"Slowest five {name}:")
        say()
        say("| site | s | CPU s | runs | gap £ | relative gap | answered by | cut short "
            "| parameters |")
        say("|---|---|---|---|---|---|---|---|---|")
        for r in sorted(rows, key=lambda r: r["s"], reverse=True)[:5]:
            say(f"| {r['site'].number} | {r['s']:.3f} | {r['cpu']:.3f} | {r['rounds']} | "
                f"{r['gap']:,.2f} | "
                f"{r['rel']:.4%} | {r['source']} | {r['cut'] or '-'} | {r['site'].describe()} |")
        say()
        say(f"Largest relative gaps, {name}:")
        say()
        say("| site | relative gap | gap £ | value £ | s | parameters |")
        say("|---|---|---|---|---|---|")
        for r in sorted(rows, key=lambda r: r["rel"], reverse=True)[:5]:
            say(f"| {r['site'].number} | {r['rel']:.4%} | {r['gap']:,.2f} | {r['value']:,.2f} | "
                f"{r['s']:.3f} | {r['site'].describe()} |")
        say()
    broken = [r for r in random_rows + corner_rows + five_rows if r["broken"]]
    for r in broken:
        say(f"- site {r['site'].number}: {r['broken']}")
    load = os.getloadavg()
    say(f"Load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (the machine is "
        "shared; timings are wall-clock).")
    if args.only is None:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
