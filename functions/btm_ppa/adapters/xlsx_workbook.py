"""Local .xlsx workbooks through openpyxl.

Reads take cached values (what Excel, LibreOffice or Google Sheets last computed): a read
cell holding a formula with no cached value is reported by cell, since openpyxl does not
compute formulas. The template keeps every read cell formula-free.

Writes are all-or-nothing and one at a time:

- a lock (``filelock``, keyed by the workbook's real path) serialises read-modify-write,
  and the workbook is loaded again under it, so two refreshes of one workbook never lose
  each other's results;
- the workbook is saved to ``.~btm-ppa-<name>-<pid>.xlsx`` in the real directory of the
  file (symlinks are written through, never replaced), given the original's mode,
  fsynced and renamed over the original, so a crash leaves the old file whole; stale
  temporary files of ours are removed on the next write;
- a folder that cannot be written (a read-only share holding a writable workbook) is
  refused with a message before anything is written: copying a finished file over the
  workbook in place would leave it corrupt if Ctrl-C or kill -9 came mid-copy;
- openpyxl drops the saved results of formulas; on every tab they are put back
  (``xlsx_results``: formulas the backend did not overwrite, on tabs it did not replace,
  keep the result the spreadsheet program last computed), so a formula typed in an input
  cell or in HH Data stays readable after any number of refreshes, registers and exports,
  and the file asks spreadsheet programs to recompute on opening.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import filelock
import openpyxl
from openpyxl.utils.cell import get_column_letter, range_boundaries

from btm_ppa.adapters.xlsx_charts import replace_charts, xlsx_chart
from btm_ppa.adapters.xlsx_lock import lock_path
from btm_ppa.adapters.xlsx_results import formula_results, put_back_results
from btm_ppa.errors import LayoutError, WorkbookUnavailableError
from btm_ppa.sheet.guidance import InputGuide
from btm_ppa.sheet.workbook import (
    CellValue,
    CellWrite,
    ColorScale,
    RangeChart,
    TableWrite,
    TabSnapshot,
)

#: Prefix of our temporary files beside a workbook (recognisable, hidden on Unix).
TEMP_PREFIX = ".~btm-ppa-"
#: How long a write waits for another refresh of the same workbook to finish.
LOCK_TIMEOUT_S = 120.0
_SUFFIXES = (".xlsx",)
_NAME_MAX = 255


def lock_files(path: Path) -> list[Path]:
    """Lock files that Excel (``~$name``) and LibreOffice (``.~lock.name#``) keep while a
    workbook is open in them."""
    candidates = [path.with_name(f"~${path.name}"), path.with_name(f".~lock.{path.name}#")]
    found = []
    for p in candidates:
        with contextlib.suppress(OSError):
            if p.exists():
                found.append(p)
    return found


def _temp_stem(target: Path) -> str:
    """The workbook's stem, cut so that ``.~btm-ppa-<stem>-<pid>.xlsx`` fits in 255 bytes."""
    room = _NAME_MAX - len(TEMP_PREFIX) - len("-") - 10 - len(target.suffix.encode())
    return target.stem.encode("utf-8", "surrogateescape")[:room].decode("utf-8", "ignore")


def temp_name(target: Path, pid: int | None = None) -> str:
    """``.~btm-ppa-<stem>-<pid>.xlsx`` beside ``target``."""
    return f"{TEMP_PREFIX}{_temp_stem(target)}-{pid if pid is not None else os.getpid()}{target.suffix}"


def stale_temp_files(target: Path) -> list[Path]:
    """Temporary files of ours left beside ``target`` by a killed save."""
    pattern = re.compile(re.escape(TEMP_PREFIX + _temp_stem(target)) + r"-\d+"
                         + re.escape(target.suffix) + "$")
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    return [target.parent / n for n in names if pattern.match(n)]


class XlsxWorkbook:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.description = self.path.name

    def _check_available(self, for_writing: bool) -> Path:
        """The real file behind the path (symlinks followed), or a clear refusal."""
        name = self.path.name
        if len(os.fsencode(name)) > _NAME_MAX:
            raise WorkbookUnavailableError(
                f"the workbook's file name ({name[:40]}...) is {len(os.fsencode(name))} bytes "
                f"long: file systems allow at most {_NAME_MAX}; give it a shorter name")
        if self.path.suffix.lower() not in _SUFFIXES:
            found = f"ends in {self.path.suffix!r}" if self.path.suffix else "has no extension"
            raise WorkbookUnavailableError(
                f"{name} is not an .xlsx workbook (its name {found}): save it in Excel "
                "Workbook format as a file ending in .xlsx and refresh that file")
        try:
            target = Path(os.path.realpath(self.path))
            info = os.stat(target)
        except FileNotFoundError:
            raise WorkbookUnavailableError(
                f"workbook {self.path} not found: expected an .xlsx file "
                "(make one with `btm-ppa template --out FILE`)") from None
        except OSError as exc:
            raise WorkbookUnavailableError(
                f"workbook {self.path} cannot be opened: {exc.strerror or exc}") from None
        if stat.S_ISDIR(info.st_mode):
            raise WorkbookUnavailableError(f"{self.path} is a folder: expected an .xlsx file")
        if not stat.S_ISREG(info.st_mode):
            raise WorkbookUnavailableError(f"{self.path} is not a regular file: expected an "
                                           ".xlsx file")
        locks = lock_files(target) or lock_files(self.path)
        if locks:
            raise WorkbookUnavailableError(
                f"workbook {name} is open in another program (lock file "
                f"{locks[0].name}): close it there and refresh again")
        if not os.access(target, os.R_OK | (os.W_OK if for_writing else 0)):
            raise WorkbookUnavailableError(
                f"workbook {self.path} cannot be {'written' if for_writing else 'read'} "
                "(permission denied)")
        if for_writing and not os.access(target.parent, os.W_OK | os.X_OK):
            raise WorkbookUnavailableError(
                f"workbook {name} is in a folder that cannot be written ({target.parent}): "
                "a refresh saves a new copy beside the workbook and renames it over the old "
                "one, so that no interruption can leave it half-written; nothing was written. "
                "Make the folder writable, or copy the workbook to a folder you can write "
                "and refresh that copy")
        return target

    def _open(self, target: Path, data_only: bool, read_only: bool = False) -> openpyxl.Workbook:
        try:
            return openpyxl.load_workbook(target, data_only=data_only, read_only=read_only)
        except MemoryError:
            raise WorkbookUnavailableError(
                f"workbook {self.path.name} is too large to open here") from None
        except Exception as exc:  # openpyxl raises many kinds on a damaged or foreign file
            detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            raise WorkbookUnavailableError(
                f"workbook {self.path.name} cannot be opened as .xlsx: {detail}") from exc

    def read(self, tab: str, cell_range: str, optional_tabs: Sequence[str] = ()) -> TabSnapshot:
        target = self._check_available(for_writing=False)
        # Read-only (streaming) mode: tabs other than those asked for are never parsed.
        values_wb = self._open(target, data_only=True, read_only=True)
        formulas_wb = self._open(target, data_only=False, read_only=True)
        try:
            if tab not in values_wb.sheetnames:
                raise LayoutError(
                    f"workbook {self.path.name} has no {tab!r} tab (tabs: "
                    f"{', '.join(values_wb.sheetnames)}): expected the BESS tab of the layout",
                    cell=None)
            min_col, min_row, max_col, max_row = range_boundaries(cell_range)
            window = {"min_row": min_row, "max_row": max_row, "min_col": min_col,
                      "max_col": max_col, "values_only": True}
            cells: dict[str, CellValue] = {}
            rows = zip(values_wb[tab].iter_rows(**window), formulas_wb[tab].iter_rows(**window),
                       strict=False)
            for r, (values, formulas) in enumerate(rows, start=min_row):
                for c, (value, formula) in enumerate(zip(values, formulas, strict=False),
                                                     start=min_col):
                    if value is not None:
                        cells[f"{get_column_letter(c)}{r}"] = value
                    elif isinstance(formula, str) and formula.startswith("="):
                        cells[f"{get_column_letter(c)}{r}"] = formula  # parsers name the cell
            tables = {
                name: [list(row) for row in values_wb[name].iter_rows(values_only=True)]
                for name in optional_tabs if name in values_wb.sheetnames
            }
            return TabSnapshot(tuple(values_wb.sheetnames), cells, tables)
        finally:
            values_wb.close()
            formulas_wb.close()

    @contextlib.contextmanager
    def _locked(self, target: Path) -> Iterator[None]:
        lock = filelock.FileLock(lock_path(target), timeout=LOCK_TIMEOUT_S, mode=0o666)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise WorkbookUnavailableError(
                f"workbook {self.path.name} is being written by another refresh (waited "
                f"{LOCK_TIMEOUT_S:g} s): try again when it has finished") from None
        except OSError as exc:  # another user's lock file, not shared with us
            raise WorkbookUnavailableError(
                f"the lock file of {self.path.name} ({lock.lock_file}) cannot be opened "
                f"({exc.strerror or exc}), so the workbook was not written: set TMPDIR to a "
                "folder you can write") from None
        try:
            yield
        finally:
            lock.release()

    def write(self, tab: str, writes: Sequence[CellWrite],
              tables: Mapping[str, TableWrite] | None = None,
              charts: Sequence[RangeChart | ColorScale] = (),
              guides: Sequence[InputGuide] = ()) -> None:  # the template carries them
        target = self._check_available(for_writing=True)
        with self._locked(target):
            # Again under the lock: the file may have been opened elsewhere meanwhile. The
            # workbook is loaded afresh here, so another refresh's save is never lost.
            target = self._check_available(for_writing=True)
            for stale in stale_temp_files(target):
                with contextlib.suppress(OSError):
                    stale.unlink()
            book = self._open(target, data_only=False)
            if any(w.tab is None for w in writes) and tab not in book.sheetnames:
                raise LayoutError(f"workbook {self.path.name} has no {tab!r} tab", cell=None)
            for chart in charts:
                if chart.tab not in book.sheetnames:
                    raise LayoutError(f"workbook {self.path.name} has no {chart.tab!r} tab",
                                      cell=None)
            for name, table in (tables or {}).items():
                if name in book.sheetnames or not table.only_if_exists:
                    _replace_tab(book, name, table)
            replace_charts(book, charts)
            for write in writes:
                if (write.tab or tab) not in book.sheetnames:
                    raise LayoutError(f"workbook {self.path.name} has no {write.tab!r} tab",
                                      cell=None)
                cell = book[write.tab or tab][write.address]
                value = write.value
                if isinstance(value, dt.datetime) and value.tzinfo is not None:
                    value = value.astimezone(dt.UTC).replace(tzinfo=None)  # xlsx has no zones
                cell.value = value
                if write.number_format:
                    cell.number_format = write.number_format
            written: dict[str, set[str]] = {}
            for w in writes:
                written.setdefault(w.tab or tab, set()).add(w.address)
            cached = formula_results(book, target, written, replaced=set(tables or {}))
            book.calculation.fullCalcOnLoad = True  # results written: recompute on opening
            self._save(book, target, cached)

    def _save(self, book: openpyxl.Workbook, target: Path,
              cached: Mapping[str, Mapping[str, CellValue]]) -> None:
        info = os.stat(target)
        tmp = target.parent / temp_name(target)
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        except OSError as exc:  # never copied in place: a signal mid-copy corrupts it
            raise WorkbookUnavailableError(
                f"workbook {self.path.name} could not be saved: its folder {target.parent} "
                f"refused a new file ({exc.strerror or exc}); nothing was written") from None
        try:
            book.save(str(tmp))
            if cached:
                put_back_results(tmp, cached)
            os.chmod(tmp, stat.S_IMODE(info.st_mode))
            if os.geteuid() == 0:
                with contextlib.suppress(OSError):
                    os.chown(tmp, info.st_uid, info.st_gid)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            with contextlib.suppress(OSError):
                folder = os.open(target.parent, os.O_RDONLY)
                try:
                    os.fsync(folder)
                finally:
                    os.close(folder)
        except OSError as exc:
            raise WorkbookUnavailableError(
                f"workbook {self.path.name} could not be saved: {exc.strerror or exc}") from exc
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _replace_tab(book: openpyxl.Workbook, name: str, table: TableWrite) -> None:
    """Recreate a tab (in the same place) holding ``table``, with its chart."""
    index = book.sheetnames.index(name) if name in book.sheetnames else len(book.sheetnames)
    if name in book.sheetnames:
        del book[name]
    sheet = book.create_sheet(name, index)
    for row in table.rows:
        sheet.append(row)
    for column, number_format in table.number_formats.items():
        letter = get_column_letter(column + 1)
        for cell in sheet[letter][1:]:
            cell.number_format = number_format
        sheet.column_dimensions[letter].width = 16
    if len(table.rows) < 2:
        return
    for number, spec in enumerate(table.charts):
        sheet.add_chart(xlsx_chart(sheet, spec, len(table.rows)),
                        f"{get_column_letter(len(table.rows[0]) + 2)}{2 + 25 * number}")

