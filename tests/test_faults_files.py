"""Files, permissions and faults around a local workbook and the embedded warehouse: the
save keeps what the file was (mode, links), never leaves a broken or half-saved workbook,
never loses another refresh's results, and never overwrites what is not ours.

Permission cases run as an unprivileged user (uid 65534, 'nobody') in a forked child when
the tests run as root (CI does), since root ignores file modes. The child keeps one
capability, CAP_DAC_READ_SEARCH (read any file, enter any folder), so that it can still
load the code it lazily needs wherever the clone and the interpreter live (a clone in a
0700 folder, a pyenv interpreter in root's home); every write is checked as nobody's."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import duckdb
import openpyxl
import pytest

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.adapters.xlsx_workbook import TEMP_PREFIX, XlsxWorkbook, stale_temp_files, temp_name
from btm_ppa.entrypoints.cli import main
from btm_ppa.errors import ExitCode, WarehouseError, WorkbookUnavailableError
from btm_ppa.refresh import refresh
from btm_ppa.sheet.workbook import CellWrite
from tests.conftest import cell, cell_values, result_cell, set_cells, status_cell

pytestmark = pytest.mark.integration

NOBODY = 65534
_PR_SET_KEEPCAPS, _CAP_DAC_READ_SEARCH, _CAPABILITY_V3 = 8, 2, 0x20080522
_CANNOT_DROP = 97  # the child's exit code when it could not become nobody


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _become_nobody_who_can_read() -> None:
    """setuid(65534) keeping CAP_DAC_READ_SEARCH alone (prctl(2), capset(2)): nobody's
    writes, root's reads. Raises OSError where the kernel or container refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_KEEPCAPS)")
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    header, data = _CapHeader(_CAPABILITY_V3, 0), (_CapData * 2)()
    data[0].effective = data[0].permitted = 1 << _CAP_DAC_READ_SEARCH
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset(CAP_DAC_READ_SEARCH)")

# Backend cells that file-level tests write directly (any two results cells would do).
SCRATCH = result_cell("ppa_revenue_gbp", "stream1")
OTHER = result_cell("vlp_revenue_gbp", "stream1")


@pytest.fixture(autouse=True)
def _warehouse_env(warehouse, monkeypatch):
    monkeypatch.setenv("BTM_PPA_WAREHOUSE", str(warehouse.path))


def _everyone_can_enter(folder: Path) -> bool:
    """Every folder on the way is searchable by others (a real unprivileged user's
    access(2) checks ignore capabilities, so the product would refuse the path)."""
    return folder.is_dir() and all(p.stat().st_mode & 0o001 for p in (folder, *folder.parents))


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the unprivileged user can reach (pytest's are 0700): in the temp folder,
    or /tmp where the temp folder lies inside a folder others cannot enter (a clone in a
    `mktemp -d` folder with TMPDIR inside it)."""
    bases = [Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")]
    base = next((b for b in bases if _everyone_can_enter(b)), None)
    if base is None:
        pytest.skip(f"no temp folder other users can enter (tried {', '.join(map(str, bases))})")
    path = Path(tempfile.mkdtemp(prefix="btm-ppa-faults-", dir=base))
    path.chmod(0o777)
    yield path
    for root, dirs, _ in os.walk(path):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o777)
    os.chmod(path, 0o777)
    shutil.rmtree(path, ignore_errors=True)


def run_unprivileged(argv: list[str], workdir: Path, env: dict[str, str] | None = None
                     ) -> tuple[int, str, str]:
    """``btm-ppa argv`` as uid/gid 65534 when root (else as the current user), in a forked
    child (the interpreter itself may sit in root's home, out of nobody's reach). Returns
    the exit code, stdout and stderr."""
    out, err = workdir / "stdout.txt", workdir / "stderr.txt"
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, run, never return into pytest
        code = 99
        try:
            sys.stdout = open(out, "w")  # noqa: SIM115 (closed by _exit's flush below)
            sys.stderr = open(err, "w")  # noqa: SIM115
            if os.geteuid() == 0:
                try:
                    _become_nobody_who_can_read()
                except OSError as exc:
                    print(f"cannot run as uid {NOBODY} keeping read access: {exc}",
                          file=sys.stderr, flush=True)
                    os._exit(_CANNOT_DROP)
            # nobody's temp folder: the shared one (the session's may be root's alone)
            os.environ.update({"TMPDIR": str(workdir), **(env or {})})
            tempfile.tempdir = None
            code = int(main(argv))
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == _CANNOT_DROP:
        pytest.skip(f"the permission case needs an unprivileged user: {err.read_text()}")
    return code, out.read_text(), err.read_text()


def flat(text: str) -> str:
    """Console text with rich's line wrapping undone."""
    return " ".join(text.split())


def _results(path: Path) -> dict[str, object]:
    return {k: v for k, v in cell_values(path).items() if 50 <= int(k[1:]) <= 62}


# -------------------------------------------------------------------- mode and links ----
@pytest.mark.parametrize("mode", [0o644, 0o664, 0o444])
def test_a_save_keeps_the_workbook_mode(example_xlsx, mode):
    example_xlsx.chmod(mode)
    XlsxWorkbook(example_xlsx).write("BESS", [CellWrite(SCRATCH, 1.0)])
    assert stat.S_IMODE(example_xlsx.stat().st_mode) == mode
    assert openpyxl.load_workbook(example_xlsx)["BESS"][SCRATCH].value == 1.0


def test_a_symlinked_workbook_is_written_through_the_link(example_xlsx, tmp_path, warehouse):
    real = tmp_path / "real" / "deal.xlsx"
    real.parent.mkdir()
    example_xlsx.rename(real)
    link = tmp_path / "link.xlsx"
    link.symlink_to(real)
    assert refresh(XlsxWorkbook(link), warehouse).ok
    assert link.is_symlink() and link.resolve() == real
    assert openpyxl.load_workbook(real)["BESS"][status_cell()].value == "OK"


# --------------------------------------------------------------- names and formats ----
@pytest.mark.parametrize("name", ["deal.xls", "deal.csv", "deal", "deal.xlsm"])
def test_a_workbook_not_named_xlsx_is_refused_clearly(example_xlsx, tmp_path, name, capsys):
    other = tmp_path / name
    shutil.copy(example_xlsx, other)
    before = other.read_bytes()
    assert main(["refresh", "--workbook", str(other)]) == ExitCode.WORKBOOK
    out = flat(capsys.readouterr().out)
    assert "is not an .xlsx workbook" in out and "Traceback" not in out
    assert other.read_bytes() == before


def test_a_file_name_too_long_for_the_file_system_is_a_clear_message(tmp_path, capsys):
    assert main(["refresh", "--workbook", str(tmp_path / ("a" * 300 + ".xlsx"))]) == (
        ExitCode.WORKBOOK)
    assert "at most 255" in flat(capsys.readouterr().out)
    assert main(["template", "--out", str(tmp_path / ("b" * 300 + ".xlsx"))]) == ExitCode.USAGE


def test_a_damaged_xlsx_is_a_clear_message(tmp_path, capsys):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["refresh", "--workbook", str(bad)]) == ExitCode.WORKBOOK
    assert "cannot be opened as .xlsx" in flat(capsys.readouterr().out)


# ----------------------------------------------------------------------- the export ----
def test_export_into_a_non_folder_is_refused_before_the_workbook_is_written(
        example_xlsx, tmp_path, capsys):
    set_cells(example_xlsx, {cell("method"): "greedy", cell("annual_demand_mwh"): 5500})
    before = example_xlsx.read_bytes()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    code = main(["refresh", "--workbook", str(example_xlsx),
                 "--export-schedule", str(blocker / "schedule.csv")])
    assert code == ExitCode.USAGE
    assert "is a file, not a folder" in flat(capsys.readouterr().err)
    assert example_xlsx.read_bytes() == before


# ------------------------------------------------------------------ the warehouse ----
@pytest.mark.parametrize("content, found", [
    (b"PK\x03\x04" + b"\0" * 40, "a zip file"),
    (b"settlementDate,price\n2023-01-01,1\n", "not a DuckDB database"),
    (b"", "an empty file"),
])
def test_a_file_at_the_warehouse_path_that_is_not_ours_is_never_overwritten(
        tmp_path, content, found):
    path = tmp_path / "prices.duckdb"
    path.write_bytes(content)
    with pytest.raises(WarehouseError, match=found):
        DuckDbWarehouse(path)
    assert path.read_bytes() == content


def test_a_duckdb_database_of_someone_else_is_never_overwritten(tmp_path):
    path = tmp_path / "theirs.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE orders AS SELECT 1 AS id")
    before = path.read_bytes()
    with pytest.raises(WarehouseError, match="not a btm-ppa warehouse"):
        DuckDbWarehouse(path)
    assert path.read_bytes() == before


def test_the_workbook_given_as_warehouse_survives(example_xlsx, tmp_path, capsys):
    before = example_xlsx.read_bytes()
    code = main(["refresh", "--workbook", str(example_xlsx), "--warehouse", str(example_xlsx)])
    assert code == ExitCode.PRICES
    assert "zip file" in flat(capsys.readouterr().err)
    assert example_xlsx.read_bytes() == before


def test_a_warehouse_path_that_is_a_folder_is_a_clear_message(example_xlsx, tmp_path, capsys):
    assert main(["refresh", "--workbook", str(example_xlsx), "--warehouse", str(tmp_path)]) == (
        ExitCode.PRICES)
    assert "is a folder" in flat(capsys.readouterr().err)


def test_an_unwritable_warehouse_folder_is_a_clear_message(shared_dir, example_xlsx):
    locked = shared_dir / "locked"
    locked.mkdir(mode=0o555)
    locked.chmod(0o555)
    workbook = shared_dir / "deal.xlsx"
    shutil.copy(example_xlsx, workbook)
    workbook.chmod(0o666)
    code, out, err = run_unprivileged(["refresh", "--workbook", str(workbook), "--warehouse",
                                       str(locked / "w.duckdb")], shared_dir)
    assert code == ExitCode.PRICES, out + err
    assert "cannot be created" in flat(err) and "Traceback" not in out + err


# ------------------------------------------------------------ permissions, as nobody ----
def _read_only_warehouse(shared_dir, warehouse):
    """A read-only copy of the session's warehouse where the unprivileged user can read it."""
    wh = shared_dir / "w.duckdb"
    shutil.copy(warehouse.path, wh)
    wh.chmod(0o444)
    return wh


def test_a_read_only_folder_holding_a_writable_workbook_still_refreshes(
        shared_dir, example_xlsx, warehouse):
    folder = shared_dir / "share"
    folder.mkdir()
    workbook = folder / "deal.xlsx"
    shutil.copy(example_xlsx, workbook)
    workbook.chmod(0o666)
    wh = _read_only_warehouse(shared_dir, warehouse)
    folder.chmod(0o555)
    code, out, err = run_unprivileged(["refresh", "--workbook", str(workbook)], shared_dir,
                                      env={"BTM_PPA_WAREHOUSE": str(wh)})
    assert code == ExitCode.OK, out + err
    assert openpyxl.load_workbook(workbook)["BESS"][status_cell()].value == "OK"
    assert sorted(p.name for p in folder.iterdir()) == ["deal.xlsx"]


def test_a_read_only_workbook_is_refused_without_a_trace(shared_dir, example_xlsx, warehouse):
    workbook = shared_dir / "deal.xlsx"
    shutil.copy(example_xlsx, workbook)
    workbook.chmod(0o444)
    wh = _read_only_warehouse(shared_dir, warehouse)
    before = workbook.read_bytes()
    code, out, err = run_unprivileged(["refresh", "--workbook", str(workbook)], shared_dir,
                                      env={"BTM_PPA_WAREHOUSE": str(wh)})
    assert code == ExitCode.WORKBOOK, out + err
    assert "permission denied" in flat(out) and "Traceback" not in out + err
    assert workbook.read_bytes() == before


# --------------------------------------------------------------------------- faults ----
_SLOW_SAVE = """
import os, sys, time
import openpyxl
from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.sheet.workbook import CellWrite

real_save = openpyxl.Workbook.save
def slow_save(self, filename):
    real_save(self, filename)          # the temporary file is whole ...
    print("SAVED", flush=True)
    time.sleep(60)                     # ... and the kill comes before the rename
openpyxl.Workbook.save = slow_save
XlsxWorkbook(sys.argv[1]).write("BESS", [CellWrite("B52", 999.0)])
"""


def test_kill_during_save_leaves_the_workbook_whole_and_the_temp_file_is_cleaned_next_time(
        example_xlsx):
    before = example_xlsx.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_SAVE, str(example_xlsx)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "SAVED"
        leftovers = stale_temp_files(example_xlsx)
        assert [p.name for p in leftovers] == [temp_name(example_xlsx, proc.pid)]
        assert leftovers[0].name.startswith(TEMP_PREFIX + "bess-")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert example_xlsx.read_bytes() == before  # the original is untouched
    XlsxWorkbook(example_xlsx).write("BESS", [CellWrite(SCRATCH, 1.0)])
    assert stale_temp_files(example_xlsx) == []
    assert sorted(p.name for p in example_xlsx.parent.iterdir()) == [example_xlsx.name]


_WRITER = """
import sys
from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.sheet.workbook import CellWrite
path, tab, value = sys.argv[1], sys.argv[2], float(sys.argv[3])
for i in range(4):
    XlsxWorkbook(path).write(tab, [CellWrite(f"B{52 + i}", value + i)])
"""


def test_two_writers_at_once_lose_nothing(example_xlsx):
    book = openpyxl.load_workbook(example_xlsx)
    book.copy_worksheet(book["BESS"]).title = "BESS 2"
    book.save(example_xlsx)
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(example_xlsx), tab, value])
             for tab, value in (("BESS", "100"), ("BESS 2", "200"))]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    book = openpyxl.load_workbook(example_xlsx)
    assert [book["BESS"][f"B{52 + i}"].value for i in range(4)] == [100, 101, 102, 103]
    assert [book["BESS 2"][f"B{52 + i}"].value for i in range(4)] == [200, 201, 202, 203]


def test_two_refreshes_of_two_tabs_at_once_both_land(example_xlsx, warehouse):
    book = openpyxl.load_workbook(example_xlsx)
    book.copy_worksheet(book["BESS"]).title = "Site B"
    book.save(example_xlsx)
    script = ("import sys\nfrom btm_ppa.adapters.xlsx_workbook import XlsxWorkbook\n"
              "from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse\n"
              "from btm_ppa.refresh import refresh\n"
              "sys.exit(0 if refresh(XlsxWorkbook(sys.argv[1]), DuckDbWarehouse(), "
              "tab=sys.argv[2]).ok else 1)")
    env = {**os.environ, "BTM_PPA_WAREHOUSE": str(warehouse.path)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(example_xlsx), tab], env=env)
             for tab in ("BESS", "Site B")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    book = openpyxl.load_workbook(example_xlsx)
    assert book["BESS"][status_cell()].value == "OK" and book["Site B"][status_cell()].value == "OK"


class _LockAppearsBeforeWrite:
    """A workbook that Excel opens between the refresh's read and its write."""

    def __init__(self, path: Path) -> None:
        self.inner = XlsxWorkbook(path)
        self.path = path
        self.description = self.inner.description

    def read(self, *args, **kwargs):
        snapshot = self.inner.read(*args, **kwargs)
        self.path.with_name(f"~${self.path.name}").write_bytes(b"owner")
        return snapshot

    def write(self, *args, **kwargs):
        return self.inner.write(*args, **kwargs)


def test_a_lock_file_appearing_mid_run_stops_the_write(example_xlsx, warehouse):
    before = example_xlsx.read_bytes()
    outcome = refresh(_LockAppearsBeforeWrite(example_xlsx), warehouse)
    assert not outcome.ok and isinstance(outcome.error, WorkbookUnavailableError)
    assert "open in another program" in outcome.status
    assert example_xlsx.read_bytes() == before


def test_a_write_waits_for_another_writer_then_sees_its_save(example_xlsx):
    """The lock is held across load-modify-save: a second writer loads after the first
    saved."""
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time, filelock
        from pathlib import Path
        from btm_ppa.adapters.xlsx_workbook import _lock_path, XlsxWorkbook
        from btm_ppa.sheet.workbook import CellWrite
        path = Path({str(example_xlsx)!r})
        with filelock.FileLock(_lock_path(path.resolve())):
            print("LOCKED", flush=True)
            time.sleep(1.0)
            import openpyxl
            book = openpyxl.load_workbook(path)
            book["BESS"][{OTHER!r}] = 7.0
            book.save(path)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "LOCKED"
    XlsxWorkbook(example_xlsx).write("BESS", [CellWrite(SCRATCH, 1.0)])
    holder.wait(timeout=60)
    book = openpyxl.load_workbook(example_xlsx)["BESS"]
    assert (book[SCRATCH].value, book[OTHER].value) == (1.0, 7.0)


def test_a_writer_that_cannot_get_the_lock_says_so(example_xlsx, monkeypatch):
    import btm_ppa.adapters.xlsx_workbook as xlsx

    monkeypatch.setattr(xlsx, "LOCK_TIMEOUT_S", 0.2)
    before = example_xlsx.read_bytes()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time, filelock
        from pathlib import Path
        from btm_ppa.adapters.xlsx_workbook import _lock_path
        with filelock.FileLock(_lock_path(Path({str(example_xlsx)!r}).resolve())):
            print("LOCKED", flush=True)
            time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "LOCKED"
        with pytest.raises(WorkbookUnavailableError, match="being written by another refresh"):
            XlsxWorkbook(example_xlsx).write("BESS", [CellWrite(SCRATCH, 1.0)])
    finally:
        holder.kill()
        holder.wait()
    assert example_xlsx.read_bytes() == before
