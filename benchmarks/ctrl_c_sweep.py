"""Ctrl-C at moments spread over a whole ``btm-ppa refresh`` (issue 26, item 10).

Each run starts the real console script on a fresh copy of the worked example (method
``optimal``, so the search runs) with a warehouse path that does not exist yet (so the
warehouse is built), and sends SIGINT after a delay; the delays are spread evenly from 0 to
1.3 times what an uninterrupted run took (start-up, imports, warehouse build, price
query, optimise, write, save; runs vary on a loaded machine). Every run must exit 130 with
one line on stderr, or exit 0 (it finished first), or, in the first milliseconds before
the interpreter has run a line of Python, die by the signal itself with nothing printed or
written (``-2`` here; a shell reports that as 130 too). The workbook must open whole (the
old bytes, or a refreshed workbook whose status says OK), no temporary file of ours may
be left beside it, and a warehouse left behind must open. Nothing here is a test: the
slow test ``test_hostile.py::test_ctrl_c_anywhere_in_a_refresh_*`` runs 6 moments of it.

    .venv/bin/python benchmarks/ctrl_c_sweep.py [--moments 45]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The moments reach this many times the uninterrupted run (the last ones should find
#: some runs finished).
REACH = 1.3


@dataclass(frozen=True)
class Moment:
    delay_s: float
    returncode: int
    stderr: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def example_workbook(folder: Path) -> Path:
    """The worked example under ``optimal`` (the search runs)."""
    import openpyxl

    from btm_ppa.sheet.template import build_template
    from sheets_layout import load_bess_layout

    path = build_template(folder / "master.xlsx", example=True)
    book = openpyxl.load_workbook(path)
    book["BESS"][load_bess_layout().input("method").cell] = "optimal"
    book.save(path)
    return path


def _command(workbook: Path, warehouse: Path) -> list[str]:
    script = Path(sys.executable).with_name("btm-ppa")
    return [str(script), "refresh", "--workbook", str(workbook), "--warehouse", str(warehouse)]


def _check(workbook: Path, before: bytes, warehouse: Path) -> list[str]:
    import openpyxl

    from btm_ppa.adapters.xlsx_workbook import TEMP_PREFIX

    problems = []
    if workbook.read_bytes() != before:
        try:
            status = openpyxl.load_workbook(workbook, data_only=True)["BESS"]["B62"].value
        except Exception as exc:  # a damaged workbook is what we look for
            problems.append(f"workbook damaged: {type(exc).__name__}: {exc}")
        else:
            if status != "OK":
                problems.append(f"workbook changed, status {status!r}")
    left = [p.name for p in workbook.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]
    if left:
        problems.append(f"temporary files left: {left}")
    if warehouse.exists():
        import duckdb

        try:
            with duckdb.connect(str(warehouse), read_only=True) as con:
                con.execute("SELECT count(*) FROM system_prices").fetchone()
        except Exception as exc:
            problems.append(f"warehouse left unusable: {exc}")
    return problems


def run_once(master: Path, folder: Path, delay_s: float | None) -> tuple[Moment, float]:
    """One refresh, interrupted after ``delay_s`` (None: not at all); and its duration."""
    folder.mkdir(parents=True, exist_ok=True)
    workbook = Path(shutil.copy(master, folder / "bess.xlsx"))
    warehouse = folder / "w.duckdb"
    before = workbook.read_bytes()
    started = time.monotonic()
    child = subprocess.Popen(_command(workbook, warehouse), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        if delay_s is not None:
            try:
                child.wait(timeout=delay_s)
            except subprocess.TimeoutExpired:
                child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=300)
    finally:
        child.kill()
    took = time.monotonic() - started
    problems = []
    lines = [line for line in err.splitlines() if line.strip()]
    if child.returncode == 130:
        if len(lines) != 1 or "interrupted" not in lines[0]:
            problems.append(f"exit 130 with stderr {err!r}")
    elif child.returncode == 0:
        if lines:
            problems.append(f"exit 0 with stderr {err!r}")
    elif child.returncode == -signal.SIGINT and not err and workbook.read_bytes() == before:
        pass  # killed by the signal before Python ran a line (a shell shows 130 for it)
    else:
        problems.append(f"exit {child.returncode}: {err[-300:]!r}")
    problems += _check(workbook, before, warehouse)
    return Moment(delay_s or 0.0, child.returncode, err.strip(), tuple(problems)), took


def sweep(moments: int, folder: Path, reach: float = REACH) -> tuple[float, list[Moment]]:
    """The uninterrupted run's duration, and ``moments`` interrupted runs spread over
    0..``reach`` times it."""
    master = example_workbook(folder)
    reference, took = run_once(master, folder / "reference", None)
    if not reference.ok or reference.returncode != 0:
        raise SystemExit(f"the uninterrupted refresh failed: {reference}")
    step = reach * took / max(1, moments - 1)
    return took, [run_once(master, folder / f"m{i:02d}", i * step)[0] for i in range(moments)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moments", type=int, default=45)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ctrl-c-sweep-") as tmp:
        took, results = sweep(args.moments, Path(tmp))
    print(f"uninterrupted refresh: {took:.2f} s; {args.moments} moments from 0 to "
          f"{REACH * took:.2f} s")
    for m in results:
        verdict = "ok" if m.ok else "BROKEN: " + "; ".join(m.problems)
        print(f"{m.delay_s:6.2f} s  exit {m.returncode:4d}  {verdict}")
    counts = {code: sum(m.returncode == code for m in results) for code in
              sorted({m.returncode for m in results})}
    broken = sum(not m.ok for m in results)
    print(f"exit codes: {counts}; promise broken in {broken} of {len(results)}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
