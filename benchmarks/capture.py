"""What each method captures of optimal's value, by price year, on the worked example.

Run with ``python benchmarks/capture.py`` (results to stdout and ``benchmarks/CAPTURE.md``;
``docs/realistic.md`` quotes them). Nothing here is a test.

For each full calendar year of prices the warehouse holds (2017-2024 with the whole
history), the worked example (``btm-ppa template --example``: 2.5 MW x 2 h, one cycle a
day, 85 %, VLP £15/MWh, North Western DUoS 17.64 / 2.05 / 0.11 p/kWh, 5,500 MWh/yr on the
default load shape) is refreshed as an analyst would: B22 = realistic, B20:B21 the year,
B25 each price forecast in turn (day-ahead where the warehouse holds it), F19 the wear
cost given (blank by default). The Valuation tab's rows are collected: optimal, the daily
perfect-foresight arm, realistic with each forecast, greedy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import openpyxl

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.core.forecast import PriceForecast
from btm_ppa.refresh import refresh
from btm_ppa.sheet.template import build_template
from sheets_layout import load_bess_layout

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, nargs="*", default=None,
                        help="calendar years (default: every full year held)")
    parser.add_argument("--forecasts", nargs="*", default=None,
                        help="B25 values (default: every forecast)")
    parser.add_argument("--wear", type=float, default=None, help="F19, £/MWh discharged")
    parser.add_argument("--warehouse", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "CAPTURE.md")
    args = parser.parse_args()
    layout = load_bess_layout()
    warehouse = DuckDbWarehouse(args.warehouse)
    held = warehouse.query("price_date_range")
    first = held["first_date"].iloc[0]
    last = held["last_date"].iloc[0]
    first, last = (dt.date.fromisoformat(str(d)[:10]) for d in (first, last))
    years = args.years or [y for y in range(first.year, last.year + 1)
                           if dt.date(y, 1, 1) >= first and dt.date(y, 12, 31) <= last]
    folder = Path(tempfile.mkdtemp())
    master = build_template(folder / "example.xlsx", example=True)
    cells = {k: layout.input(k).cell for k in ("window_start", "window_end", "method",
                                               "price_forecast", "wear_gbp_per_mwh")}
    lines = [f"# Capture rates by price year, worked example ({dt.date.today()}, "
             f"{platform.machine()}, {os.cpu_count()} cores; load average "
             f"{os.getloadavg()[0]:.2f})", "",
             f"Wear cost: {'blank (not priced)' if args.wear is None else f'£{args.wear:g}/MWh'}."
             " Value: over no battery, at outturn system prices (£); capture: / optimal's; "
             "cycles: equivalent full cycles a year.", "",
             "| year | method | value £ | capture | cycles/yr | refresh s |",
             "|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for year in years:
        kinds = [k for k in PriceForecast
                 if args.forecasts is None or k.value in args.forecasts]
        for kind in kinds:
            path = Path(shutil.copy(master, folder / f"{year}-{kind.name}.xlsx"))
            book = openpyxl.load_workbook(path)
            ws = book[layout.tab_name]
            ws[cells["window_start"]] = dt.date(year, 1, 1)
            ws[cells["window_end"]] = dt.date(year, 12, 31)
            ws[cells["method"]] = "realistic"
            ws[cells["price_forecast"]] = kind.value
            ws[cells["wear_gbp_per_mwh"]] = args.wear
            book.save(path)
            started = time.perf_counter()
            outcome = refresh(XlsxWorkbook(path), warehouse, budget_s=600)
            seconds = time.perf_counter() - started
            if not outcome.ok:
                lines.append(f"| {year} | realistic ({kind.value}) | - | - | - | "
                             f"{outcome.status[:120]} |")
                print(lines[-1], flush=True)
                continue
            rows = list(openpyxl.load_workbook(path)[layout.valuation["tab"]].values)
            for row in rows[1:]:
                if not row or row[0] is None or row[1] is None:
                    break
                name = row[0].replace(" <- B22", "")
                if kind is not kinds[0] and not name.startswith("realistic"):
                    continue
                value, capture, cycles = row[2], row[7], row[6]
                lines.append(f"| {year} | {name} | {value:,.0f} | "
                             f"{'-' if capture is None else f'{capture:.1%}'} | {cycles:,.0f} | "
                             f"{seconds:.1f} |")
                print(lines[-1], flush=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
