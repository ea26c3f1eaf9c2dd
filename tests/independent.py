"""An independent recalculation of rows 40-42 and 50-60 for the `sheet` method, written
from the spec with the standard library only (csv, gzip, zoneinfo, decimal): no pandas, no
DuckDB, none of btm_ppa's core. Used to check the refresh to the penny."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "functions" / "btm_ppa" / "data"
LONDON = ZoneInfo("Europe/London")
ROWS = {"red": 28, "amber": 29, "green": 30}


def _band_of(clock_minutes: int, row: dict[str, str], weekend: bool) -> str:
    kind = "weekend" if weekend else "weekday"
    for band in ("red", "amber", "green"):
        text = row[f"{kind}_{band}"]
        if text == "none":
            continue
        times = [int(t[:2]) * 60 + int(t[3:]) for t in
                 __import__("re").findall(r"\d\d:\d\d", text)]
        for start, end in zip(times[::2], times[1::2], strict=True):
            if start <= clock_minutes < (end or 1440):
                return band
    raise AssertionError(f"no band at {clock_minutes} min")


HISTORY = "gb_system_prices_sspsbpniv_2016-06-06_2025-06-01.csv.gz"
DETSYS = "gb_imbalance_price_detsys_2023-01-01_2024-05-31.csv.gz"
APXMIDP = "gb_market_index_price_apxmidp_2024-01-01_2025-06-05.csv.gz"
CLOCK_DAYS_NUMBERED_WRONG = {"2023-03-26", "2023-10-29", "2024-03-31"}
LONGEST_FILLED_GAP = 4  # periods in a row


def _gz_rows(name: str):
    with gzip.open(DATA / name, "rt", encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def _mid() -> dict[tuple[str, int], float]:
    """MID by (date, period), per data/README.md: 2023 from DETSYSPRICES (its clock-change
    days left out, 0.0 = no trade = no price), 2024 on from APXMIDP (traded volume > 0)."""
    mid = {}
    for r in _gz_rows(DETSYS):
        if (r["settlementDate"].startswith("2023") and r["marketIndexPrice"]
                and r["settlementDate"] not in CLOCK_DAYS_NUMBERED_WRONG
                and float(r["marketIndexPrice"]) != 0.0):
            mid[(r["settlementDate"], int(r["settlementPeriod"]))] = float(r["marketIndexPrice"])
    for r in _gz_rows(APXMIDP):
        if float(r["marketIndexVolume"]) > 0:
            mid[(r["settlementDate"], int(r["settlementPeriod"]))] = float(r["marketIndexPrice"])
    return mid


def window_prices(start: dt.date, end: dt.date,
                  column: str = "systemBuyPrice") -> list[tuple[str, int, str, float]]:
    """(date, period, UTC start, price) of every period of the window (the history file
    holds them all), a blank price filled linearly between its priced neighbours (the
    nearest one at the window's edges); a longer run than LONGEST_FILLED_GAP is an error."""
    rows = [r for r in _gz_rows(HISTORY)
            if start <= dt.date.fromisoformat(r["settlementDate"]) <= end]
    mid = _mid() if column == "marketIndexPrice" else {}
    values: list[float | None] = [
        mid.get((r["settlementDate"], int(r["settlementPeriod"])))
        if column == "marketIndexPrice" else float(r[column]) for r in rows]
    known = [i for i, x in enumerate(values) if x is not None]
    run = 0
    for i, x in enumerate(values):
        run = run + 1 if x is None else 0
        if run > LONGEST_FILLED_GAP:
            raise ValueError(f"a gap of more than {LONGEST_FILLED_GAP} periods ends at {rows[i]}")
    for i, x in enumerate(values):
        if x is None:
            before = max((k for k in known if k < i), default=None)
            after = min((k for k in known if k > i), default=None)
            if before is None or after is None:
                values[i] = values[after if before is None else before]
            else:
                lo, hi = values[before], values[after]
                assert lo is not None and hi is not None
                values[i] = lo + (hi - lo) * (i - before) / (after - before)
    return [(r["settlementDate"], int(r["settlementPeriod"]), r["startTime"], float(v or 0.0))
            for r, v in zip(rows, values, strict=True)]


def missing_count(start: dt.date, end: dt.date, column: str = "marketIndexPrice") -> int:
    """Periods of the window with no price held in the shipped files (before filling)."""
    if column != "marketIndexPrice":
        return 0
    mid = _mid()
    return sum(1 for r in _gz_rows(HISTORY)
               if start <= dt.date.fromisoformat(r["settlementDate"]) <= end
               and (r["settlementDate"], int(r["settlementPeriod"])) not in mid)


def band_means(gsp_group: str, start: dt.date, end: dt.date,
               column: str = "systemBuyPrice") -> dict[str, float]:
    """Simple mean of ``column`` (systemBuyPrice, or marketIndexPrice for MID) per band,
    short gaps filled as ``window_prices`` fills them."""
    with open(DATA / "gb_duos_time_bands_2024-25_to_2026-27.csv", encoding="utf-8") as fh:
        bands = {(r["gsp_group_id"], r["charging_year"]): r for r in csv.DictReader(fh)}
    sums = {"red": 0.0, "amber": 0.0, "green": 0.0}
    counts = {"red": 0, "amber": 0, "green": 0}
    for date, _sp, start_time, price in window_prices(start, end, column):
        day = dt.date.fromisoformat(date)
        local = dt.datetime.fromisoformat(start_time.replace("Z", "+00:00")).astimezone(LONDON)
        fy = day.year if day.month >= 4 else day.year - 1
        year = f"{max(fy, 2024)}/{(max(fy, 2024) + 1) % 100:02d}"
        band = _band_of(local.hour * 60 + local.minute, bands[(gsp_group, year)],
                        local.weekday() >= 5)
        sums[band] += price
        counts[band] += 1
    return {b: sums[b] / counts[b] for b in sums if counts[b]}


CHARGES = DATA / "charges"


def _csv(name: str) -> list[dict[str, str]]:
    with open(CHARGES / name, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def charging_year(day: dt.date) -> str:
    first = day.year if day.month >= 4 else day.year - 1
    return f"{first}/{(first + 1) % 100:02d}"


def site_tariff(voltage: str, kva: float, year: str) -> str:
    """The LV/HV site-specific tariff of an agreed capacity, from the national residual
    band thresholds of the year (or the nearest year held)."""
    category = {"LV": "LV with MIC (LV Site Specific)", "HV": "HV Site Specific"}[voltage]
    rows = [r for r in _csv("duos_residual_bands_and_tnuos_mapping.csv")
            if r["record_type"] == "residual_band_threshold" and r["category_std"] == category]
    years = sorted({r["charging_year"] for r in rows})
    at = year if year in years else min(years, key=lambda y: abs(int(y[:4]) - int(year[:4])))
    band = next(int(r["band"]) for r in rows if r["charging_year"] == at
                and float(r["lower_threshold_exclusive"] or 0) < kva
                and (not r["upper_threshold_inclusive"]
                     or kva <= float(r["upper_threshold_inclusive"])))
    return f"{voltage} Site Specific Band {band}"


def tariff_row(gsp_group: str, tariff: str, year: str) -> dict[str, str]:
    return next(r for r in _csv("duos_tariffs_lv_hv_2022-23_to_2026-27.csv")
                if r["gsp_group"] == gsp_group and r["charging_year"] == year
                and r["tariff_key"] == tariff)


def tdr_gbp_per_day(tariff: str, year: str) -> float:
    """The TNUoS demand residual of a site-specific tariff's band (0 before 2023/24)."""
    if int(year[:4]) < 2023:
        return 0.0
    band = tariff.split()[0] + tariff.split()[-1]  # "LV Site Specific Band 4" -> "LV4"
    row = next(r for r in _csv("tnuos_demand_residual_2023-24_to_2026-27.csv")
               if r["charging_year"] == year and r["tdr_band"] == band)
    return float(row["tdr_tariff_gbp_per_site_per_day"])


def fixed_charges(gsp_group: str, voltage: str, kva: float, start: dt.date, end: dt.date,
                  typed: dict[str, float | None]) -> tuple[float, float]:
    """DUoS (fixed + capacity) and TNUoS residual £ over a window: each charging year's
    days x its rates (typed B13/B14/B15 win over the tables)."""
    duos = tnuos = 0.0
    day = start
    while day <= end:
        year = charging_year(day)
        tariff = site_tariff(voltage, kva, year)
        row = tariff_row(gsp_group, tariff, year)
        fixed = typed["B14"] if typed["B14"] is not None else float(
            row["fixed_p_per_mpan_per_day"] or 0) / 100
        capacity = typed["B15"] if typed["B15"] is not None else float(
            row["capacity_p_per_kva_per_day"] or 0)
        duos += fixed + capacity / 100 * kva
        tnuos += typed["B13"] if typed["B13"] is not None else tdr_gbp_per_day(tariff, year)
        day += dt.timedelta(days=1)
    return duos, tnuos


def _p(x: float) -> Decimal:
    return Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def expected_rows(path: Path, gsp_group: str) -> dict[str, dict[str, Decimal | float]]:
    """Rows of the refreshed workbook as they should be, keyed by row number."""
    ws = openpyxl.load_workbook(path, data_only=True)["BESS"]
    v = lambda a: float(ws[a].value)  # noqa: E731
    start, end = ws["B20"].value.date(), ws["B21"].value.date()
    basis = str(ws["B24"].value or "system buy").strip().casefold()
    means = band_means(gsp_group, start, end,
                       "marketIndexPrice" if basis == "market index" else "systemBuyPrice")
    ppa, vlp = v("B45"), v("F18")
    # Fixed and capacity charges (B11 kVA), per day over the window, on Stream 1 (the
    # `sheet` method has no schedule to split them by): typed B13:B15, or each charging
    # year's published rates for the site's tariff.
    typed = {a: (None if ws[a].value is None else float(ws[a].value))
             for a in ("B13", "B14", "B15")}
    if ws["B11"].value:
        fixed_duos, fixed_tnuos = fixed_charges(gsp_group, str(ws["B9"].value), v("B11"),
                                                start, end, typed)
    else:
        days = (end - start).days + 1
        fixed_duos = days * ((typed["B14"] or 0) + (typed["B15"] or 0) / 100 * 0)
        fixed_tnuos = days * (typed["B13"] or 0)
    rte = v("F17") / 100 if v("F17") > 1 else v("F17")
    out: dict[str, dict[str, Decimal | float]] = {}
    streams = {}
    for name, vol_col, cost_col in (("s1", "B", "C"), ("s2", "G", "H")):
        band_vol = {b: v(f"{vol_col}{r}") for b, r in ROWS.items()}
        imported = sum(band_vol.values())
        buy = sum(band_vol[b] * means[b] for b in band_vol if band_vol[b])
        supplied = imported if name == "s1" else imported * rte
        lines = {
            "52": _p(supplied * ppa),
            "53": _p(supplied * vlp) if name == "s2" else Decimal("0.00"),
            "54": _p(buy),
            "55": _p(sum(v(f"{cost_col}{r}") for r in (28, 29, 30)))
            + (_p(fixed_duos) if name == "s1" else Decimal("0.00")),
            "56": _p(v(f"{cost_col}31") + v(f"{cost_col}32"))
            + (_p(fixed_tnuos) if name == "s1" else Decimal("0.00")),
            "57": _p(v(f"{cost_col}35") + v(f"{cost_col}36") + v(f"{cost_col}37")),
        }
        lines["58"] = lines["54"] + lines["55"] + lines["56"] + lines["57"]
        lines["59"] = lines["52"] + lines["53"] - lines["58"]
        streams[name] = (supplied, lines, buy / imported if imported else None, imported)
    for row in ("52", "53", "54", "55", "56", "57", "58", "59"):
        a, b = streams["s1"][1][row], streams["s2"][1][row]
        out[row] = {"B": a, "C": b, "D": a + b}
    out["51"] = {"B": streams["s1"][0], "C": streams["s2"][0],
                 "D": streams["s1"][0] + streams["s2"][0]}
    out["60"] = {col: (out["59"][col] / Decimal(repr(out["51"][col]))).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP) for col in "BCD"}
    out["40"] = {"B": streams["s1"][2], "F": streams["s2"][2]}
    out["41"] = {"B": streams["s1"][3], "G": streams["s2"][3]}
    out["42"] = {"C": out["54"]["B"], "H": out["54"]["C"]}
    return out
