"""Cold import of the Cloud Function module: ``python -c 'import main'`` in fresh
processes (cwd functions/, as the functions framework loads it), median / p95 / max, and
what the first request of each kind then imports on top (lazily). Writes its own section
of benchmarks/RESULTS.md. Nothing here is a test: the target (<= 1.5 s median) is reported.

    .venv/bin/python benchmarks/import_time.py [--runs 20] [--python PATH] [--source DIR]

``--python`` and ``--source`` measure the deployed set instead: a virtualenv holding only
deploy/requirements-cloud.txt and the source staged by ``deploy.sh --stage-only``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Cold import of the function module"
CASES = {
    "import main (every cold start)": "import main",
    "+ a refresh's first request (pandas, the model, Sheets, BigQuery)":
        "import main; import btm_ppa.refresh, btm_ppa.entrypoints.report, "
        "btm_ppa.adapters.sheets_workbook, btm_ppa.adapters.bigquery_warehouse, "
        "btm_ppa.adapters.run_log",
    "+ the nightly fan-out's first request (Cloud Tasks client)":
        "import main; import btm_ppa.prices.ingest, google.cloud.tasks_v2",
}


def measure(python: str, code: str, runs: int, source: Path) -> list[float]:
    times = []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([python, "-c", code], cwd=source, env=env, check=True)
        times.append(time.perf_counter() - started)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--source", type=Path, default=ROOT / "functions")
    args = parser.parse_args()
    version = subprocess.run([args.python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    rows = []
    for label, code in CASES.items():
        times = measure(args.python, code, args.runs, args.source)
        rows.append(f"| {label} | {statistics.median(times):.2f} s | {p95(times):.2f} s | "
                    f"{max(times):.2f} s |")
        print(rows[-1], flush=True)
    staged = args.source.resolve() != (ROOT / "functions").resolve()
    heading = HEADING + (" (staged source, cloud lock only)" if staged
                         else " (repository source, development virtualenv)")
    section = "\n".join([
        heading, "",
        f"{dt.date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {version}, "
        f"{args.runs} fresh processes each (process start included). Target: `import main` "
        "<= 1.5 s median; pandas, the model, openpyxl, BigQuery and Cloud Tasks load on the "
        "first request that needs them.", "",
        "| what | median | p95 | max |", "|---|---|---|---|", *rows, ""])
    results = ROOT / "benchmarks" / "RESULTS.md"
    text = results.read_text(encoding="utf-8") if results.exists() else ""
    text = re.sub(rf"\n?{re.escape(heading)}\n.*?(?=\n## |\Z)", "", text, flags=re.S).rstrip()
    results.write_text((text + "\n\n" if text else "") + section, encoding="utf-8")


if __name__ == "__main__":
    main()
