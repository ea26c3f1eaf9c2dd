"""The deal's speed (issue 25): the whole deal on the worked example (every full price year
held over the term) and the power x duration sizing sweep in a process pool. Run with
``make bench-deal``; prints the figures and writes ``benchmarks/DEAL.md``. Targets (<= 15 s
for the deal, <= 120 s for 25 sizes, on 2 cores) are reported, not asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.deal import run_deal
from btm_ppa.reference import files as reference
from btm_ppa.sheet.deal_inputs import read_deal_inputs
from btm_ppa.sheet.inputs import read_inputs
from btm_ppa.sheet.template import build_template
from btm_ppa.sheet.workbook import TabSnapshot
from sheets_layout import load_bess_layout, load_deal_layout

ROOT = Path(__file__).resolve().parents[1]


def cpu_s() -> float:
    """CPU seconds of this process and its finished children (the pool's workers)."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", default="realistic",
                        help="the Deal tab's method (B31; realistic, its default)")
    parser.add_argument("--steps", type=int, default=5, help="sizing grid steps per side")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    parser.add_argument("--warehouse", type=Path, default=None)
    args = parser.parse_args()
    bess, deal = load_bess_layout(), load_deal_layout()
    with tempfile.TemporaryDirectory() as folder:
        path = build_template(Path(folder) / "deal.xlsx", example=True, deal=True)
        book = XlsxWorkbook(path)
        snapshot = book.read(bess.tab_name, bess.read_range, optional_tabs=(deal.tab_name,))
    cells = dict(snapshot.cells)
    cells[bess.input("method").cell] = "optimal"
    inputs = read_inputs(bess, TabSnapshot(snapshot.tab_names, cells, {}),
                         reference.read_gsp_groups())
    rows = [list(r) for r in snapshot.tables[deal.tab_name]]
    method_row, steps_row = deal.input("method").row, deal.input("sizing_steps").row
    rows[method_row - 1][1] = args.method
    warehouse = DuckDbWarehouse(args.warehouse)
    lines = [f"# The deal's speed ({dt.date.today()}, {platform.machine()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()})", ""]

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    rows[steps_row - 1][1] = 0
    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), cpu_s()
    found = run_deal(bess, deal, inputs, read_deal_inputs(deal, rows), warehouse)
    seconds, cpu = time.perf_counter() - started, cpu_s() - cpu
    r = found.result
    say(f"- whole deal, {args.method}, {len(r.scenarios)} price years "
        f"({', '.join(s.name for s in r.scenarios)}) over {r.terms.term_years} years"
        + ("" if found.ceiling is None else ", with optimal beside as the ceiling")
        + f": {seconds:.1f} s wall, {cpu:.1f} s CPU, load average {load:.1f} (target <= 15 s); "
        f"NPV P50 £{r.npv['p50']:,.0f}")
    rows[steps_row - 1][1] = args.steps
    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), cpu_s()
    found = run_deal(bess, deal, inputs, read_deal_inputs(deal, rows), warehouse,
                     workers=args.workers)
    seconds, cpu = time.perf_counter() - started, cpu_s() - cpu
    sizing = found.sizing
    assert sizing is not None
    power, duration = sizing.best
    say(f"- deal + sizing sweep of {len(sizing.npv_p50_gbp)} sizes on {sizing.workers} "
        f"process(es): sweep {sizing.seconds:.1f} s wall (target <= 120 s); deal and sweep "
        f"{seconds:.1f} s wall, {cpu:.1f} s CPU over all processes, load average {load:.1f}; "
        f"best {power:,.0f} kW x {duration:g} h, P50 NPV "
        f"£{sizing.npv_p50_gbp[(power, duration)]:,.0f}")
    (ROOT / "benchmarks" / "DEAL.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
