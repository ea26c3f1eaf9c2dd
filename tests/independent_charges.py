"""An independent recompute of rows 51-60 of a greedy/optimal refresh from the exported
schedule (``--export-schedule``) and the shipped charge tables, written from the spec
(docs/charges.md) with the standard library only (csv, zoneinfo, decimal, math): none of
btm_ppa's code.

Per settlement period t of charging year y (1 April - 31 March), for each stream's
metered import e_t (Stream 1: grid to site; Stream 2: battery charging):

- DUoS: e_t x the unit rate of t's time band (UK clock, y's bands for the GSP group) in
  y's statement for the site's tariff (B9's site-specific tariff of the residual band
  the agreed capacity B11 falls in, by y's national thresholds);
- losses: LLF_t = the settlement LLF of t's band for the tariff's LLFC in y, else the
  statement's generic LLF for the voltage (mean of its time periods), the nearest held
  year standing in; TLM 1 (not held);
- energy: e_t x LLF_t x price_t; BSUoS: e_t x LLF_t x the fixed tariff of t's half-year;
  CfD (the interim levy rate in force on t's day), AAHEDC (y's), Nuclear RAB (none before
  December 2025) and the Capacity Market charge (16:00-19:00 UK clock on working days of
  November-February: weekends and England and Wales bank holidays out): e_t x LLF_t x
  rate; CCL (x 8 % under a CCA), RO: e_t x y's rate; FiT: e_t x the typed rate;
- Triad: e_t x the typed £/kW x 2,000 kW per MWh-in-a-half-hour / 3 in y's Triad
  half-hours;
- fixed, capacity and TNUoS residual: days of y x (fixed + capacity x kVA, the residual
  of the tariff's band, or the typed B13); Stream 1 at the site's own capacity (its peak
  demand at B12's power factor, rounded up to the kVA, or B11 if lower) and that
  capacity's tariff, Stream 2 the difference.

Each £ line is rounded half up to the penny and the lines added (core/results.py's rule);
Stream 2's fixed charges are rounded after the difference is taken.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.independent import CHARGES, charging_year, site_tariff, tdr_gbp_per_day

LONDON = ZoneInfo("Europe/London")
BANDS = ("red", "amber", "green")
PENNY = Decimal("0.01")


def pennies(x: float) -> Decimal:
    return Decimal(repr(float(x))).quantize(PENNY, rounding=ROUND_HALF_UP)


def _csv(name: str) -> list[dict[str, str]]:
    with open(CHARGES / name, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _spans(text: str) -> list[tuple[int, int]]:
    """'07:00-16:00 & 19:00-23:00' -> [(420, 960), (1140, 1380)] (minutes of the day)."""
    return [(int(h1) * 60 + int(m1), (int(h2) * 60 + int(m2)) or 1440)
            for h1, m1, h2, m2 in re.findall(r"(\d\d):(\d\d)-(\d\d):(\d\d)", text)]


def _nearest(years: set[str], year: str) -> str:
    return year if year in years else min(years, key=lambda y: abs(int(y[:4]) - int(year[:4])))


class Tables:
    """The shipped charge CSVs of one GSP group, read with csv."""

    def __init__(self, gsp_group: str) -> None:
        self.bands = {(r["charging_year"], r["day_type"]): r
                      for r in _csv("duos_time_bands_2022-23_to_2026-27.csv")
                      if r["gsp_group"] == gsp_group}
        self.tariffs = {(r["charging_year"], r["tariff_key"].casefold()): r
                        for r in _csv("duos_tariffs_lv_hv_2022-23_to_2026-27.csv")
                        if r["gsp_group"] == gsp_group}
        self.bsuos = [(dt.date.fromisoformat(r["period_start"]),
                       dt.date.fromisoformat(r["period_end"]),
                       float(r["bsuos_fixed_tariff_gbp_per_mwh"]))
                      for r in _csv("bsuos_fixed_tariff.csv") if r["is_current_in_head"] == "True"]
        self.ccl = {r["charging_year"]: float(r["ccl_main_rate_gbp_per_kwh"]) * 1000
                    for r in _csv("ccl.csv")}
        self.ro = {r["obligation_period"]: float(r["ro_cost_gbp_per_mwh"])
                   for r in _csv("ro.csv") if r["ro_cost_gbp_per_mwh"]}
        self.aahedc = {r["charging_year"]: float(r["total_scheme_tariff_gbp_per_mwh"])
                       for r in _csv("aahedc.csv")}
        self.cfd = [(dt.date.fromisoformat(r["period_start"]),
                     dt.date.fromisoformat(r["period_end"]), float(r["ilr_gbp_per_mwh"]))
                    for r in _csv("cfd_interim_levy_rates.csv")]
        self.triads = {(dt.date.fromisoformat(r["triad_date"]), int(r["settlement_period"]))
                       for r in _csv("tnuos_triads_2022-23_to_2025-26.csv")}
        self.llf_settlement: dict[tuple[str, str], dict[str, float]] = {}
        for r in _csv("line_loss_factors_2023-24_by_llfc_and_duos_band.csv"):
            key = (r["charging_year"], " ".join(r["duos_tariff_name"].replace(" or CT", "")
                                                .split()).casefold())
            if (r["gsp_group"] == gsp_group and r["is_lv_hv_nondomestic_demand"] == "True"
                    and key not in self.llf_settlement):
                self.llf_settlement[key] = {b: float(r[f"llf_mean_{b}"]) for b in BANDS}
        self.llf_generic: dict[tuple[str, str], float] = {}
        for r in _csv("line_loss_factors_generic_by_voltage_2022-23_to_2023-24.csv"):
            name = r["metered_voltage"].casefold().replace("-", " ")
            voltage = ("LV" if name.startswith(("low voltage network", "lv network")) else
                       "HV" if name.startswith(("high voltage network", "hv network")) else None)
            values = [float(r[f"llf_period{i}"]) for i in range(1, 6) if r[f"llf_period{i}"]]
            if (r["gsp_group"] == gsp_group and voltage and values
                    and (r["charging_year"], voltage) not in self.llf_generic):
                self.llf_generic[(r["charging_year"], voltage)] = sum(values) / len(values)

    def llf(self, year: str, tariff_key: str, voltage: str, band: str) -> float:
        def held(y: str) -> float | None:
            found = self.llf_settlement.get((y, tariff_key.casefold()))
            return found[band] if found else self.llf_generic.get((y, voltage))

        years = {y for y, _ in self.llf_settlement} | {y for y, _ in self.llf_generic}
        at = _nearest({y for y in years if held(y) is not None}, year)
        value = held(at)
        assert value is not None
        return value

    def cfd_at(self, day: dt.date) -> float | None:
        return next((rate for lo, hi, rate in self.cfd if lo <= day <= hi), None)

    def band(self, local: dt.datetime) -> str:
        year = _nearest({y for y, _ in self.bands}, charging_year(local.date()))
        row = self.bands[(year, "weekend" if local.weekday() >= 5 else "weekday")]
        minute = local.hour * 60 + local.minute
        found = [b for b in BANDS if any(lo <= minute < hi for lo, hi in _spans(row[f"{b}_times"]))]
        assert len(found) == 1, (local, found)
        return found[0]

    def tariff(self, year: str, key: str) -> dict[str, str]:
        return self.tariffs[(year, key.casefold())]

    def bsuos_at(self, day: dt.date) -> float:
        return next(rate for lo, hi, rate in self.bsuos if lo <= day <= hi)


#: Bank holidays in England and Wales (gov.uk/bank-holidays) in the windows tested.
BANK_HOLIDAYS = {dt.date(2023, 12, 25), dt.date(2023, 12, 26), dt.date(2024, 1, 1),
                 dt.date(2024, 3, 29), dt.date(2024, 4, 1), dt.date(2025, 4, 18),
                 dt.date(2025, 4, 21)}
#: The Nuclear RAB levy's first day.
NUCLEAR_RAB_FROM = dt.date(2025, 12, 1)


def capacity_market_period(local: dt.datetime) -> bool:
    return (local.month in (11, 12, 1, 2) and local.weekday() < 5
            and local.date() not in BANK_HOLIDAYS and 16 <= local.hour < 19)


def recompute(schedule_csv: Path, *, gsp_group: str, voltage: str, agreed_kva: float,
              power_factor: float, ppa: float, vlp: float, fit: float,
              tdr_typed: float | None = None, typed: dict[str, float] | None = None,
              cca: bool = False) -> dict[str, dict[str, Decimal | float]]:
    """Rows 51-60 as {row: {"B": Stream 1, "C": Stream 2, "D": Total}}. ``typed``: the
    typed rates of D11:D17 (cfd, cm, aahedc, nuclear_rab £/MWh; triad £/kW)."""
    typed = typed or {}
    t = Tables(gsp_group)
    with open(schedule_csv, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    peak_kw = max(float(r["demand_mwh"]) for r in rows) * 2 * 1000  # MWh a half hour -> kW
    s1_kva = min(agreed_kva, math.ceil(peak_kw / power_factor - 1e-9))

    terms: dict[str, dict[str, list[float]]] = {s: defaultdict(list) for s in ("s1", "s2")}
    days_by_year: dict[str, set[dt.date]] = defaultdict(set)
    volume: dict[str, list[float]] = {"s1": [], "s2": []}
    for r in rows:
        day = dt.date.fromisoformat(r["settlement_date"])
        start = dt.datetime.fromisoformat(r["start_time_utc"].replace("Z", "+00:00"))
        local = (start if start.tzinfo else start.replace(tzinfo=dt.UTC)).astimezone(LONDON)
        year = charging_year(day)
        days_by_year[year].add(day)
        band = t.band(local)
        assert band == r["duos_band"], (r, band)  # the export's band agrees with the spec's
        key = site_tariff(voltage, agreed_kva, year)
        unit_gbp_per_mwh = float(t.tariff(year, key)[f"{band}_unit_p_per_kwh"]) * 10
        llf = t.llf(year, key, voltage, band)
        cfd = typed["cfd"] if "cfd" in typed else t.cfd_at(day)
        aahedc = typed["aahedc"] if "aahedc" in typed else t.aahedc[year]
        rab = typed.get("nuclear_rab", 0.0) if day >= NUCLEAR_RAB_FROM else 0.0
        cm = typed["cm"] if capacity_market_period(local) else 0.0
        assert cfd is not None, day
        triad = (day, int(r["settlement_period"])) in t.triads
        rates = {"duos_" + band: unit_gbp_per_mwh, "bsuos": llf * t.bsuos_at(day),
                 "tnuos": typed["triad"] * 2000 / 3 if triad else 0.0,
                 "ccl": t.ccl[year] * (0.08 if cca else 1.0), "ro": t.ro[year], "fit": fit,
                 "other": llf * (cfd + aahedc + rab + cm)}
        price = float(r["energy_price_gbp_per_mwh"]) * llf
        for stream, energy in (("s1", float(r["grid_to_site_mwh"])),
                               ("s2", float(r["charge_mwh"]))):
            volume[stream].append(energy)
            terms[stream]["energy"].append(energy * price)
            for name, rate in rates.items():
                terms[stream][name].append(energy * rate)
        volume.setdefault("discharge", []).append(float(r["discharge_mwh"]))

    fixed = {"s1": [0.0, 0.0], "total": [0.0, 0.0]}
    for year, days in days_by_year.items():
        for which, kva in (("s1", s1_kva), ("total", agreed_kva)):
            key = site_tariff(voltage, kva, year)
            row = t.tariff(year, key)
            fixed[which][0] += len(days) * (float(row["fixed_p_per_mpan_per_day"] or 0) / 100
                                            + float(row["capacity_p_per_kva_per_day"] or 0)
                                            / 100 * kva)
            fixed[which][1] += len(days) * (tdr_typed if tdr_typed is not None
                                            else tdr_gbp_per_day(key, year))
    fixed["s2"] = [fixed["total"][0] - fixed["s1"][0], fixed["total"][1] - fixed["s1"][1]]

    out: dict[str, dict[str, Decimal | float]] = defaultdict(dict)
    for stream, col in (("s1", "B"), ("s2", "C")):
        line = defaultdict(lambda: Decimal("0.00"), {
            name: pennies(math.fsum(values)) for name, values in terms[stream].items()})
        supplied = math.fsum(volume["s1"] if stream == "s1" else volume["discharge"])
        r52 = pennies(supplied * ppa)
        r53 = pennies(supplied * vlp) if stream == "s2" else Decimal("0.00")
        r54 = line["energy"]
        r55 = sum((line["duos_" + b] for b in BANDS), Decimal(0)) + pennies(fixed[stream][0])
        r56 = line["tnuos"] + line["bsuos"] + pennies(fixed[stream][1])
        r57 = line["ccl"] + line["ro"] + line["fit"] + line["other"]
        r58 = r54 + r55 + r56 + r57
        for row, value in (("51", round(supplied, 6)), ("52", r52), ("53", r53), ("54", r54),
                           ("55", r55), ("56", r56), ("57", r57), ("58", r58),
                           ("59", r52 + r53 - r58)):
            out[row][col] = value
    for row in ("52", "53", "54", "55", "56", "57", "58", "59"):
        out[row]["D"] = out[row]["B"] + out[row]["C"]  # type: ignore[operator]
    out["51"]["D"] = round(float(out["51"]["B"]) + float(out["51"]["C"]), 6)
    for col in "BCD":
        out["60"][col] = (Decimal(out["59"][col]) / Decimal(repr(float(out["51"][col])))
                          ).quantize(PENNY, rounding=ROUND_HALF_UP)
    return dict(out)
