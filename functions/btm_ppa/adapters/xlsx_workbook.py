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
- a folder that cannot be written (a read-only share holding a writable workbook) gets
  the finished file copied in place under the lock instead;
- openpyxl drops the saved results of formulas; for the written tab they are put back
  (formulas the backend did not overwrite keep the result the spreadsheet program last
  computed), so a formula typed in an input cell stays readable after any number of
  refreshes, and the file asks spreadsheet programs to recompute on opening.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from xml.sax.saxutils import escape

import filelock
import openpyxl
from openpyxl.utils.cell import get_column_letter, range_boundaries
from openpyxl.utils.datetime import to_excel

from btm_ppa.adapters.xlsx_charts import replace_charts, xlsx_chart
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


def _lock_path(target: Path) -> Path:
    """One lock file per real workbook path, in a shared temporary folder (the workbook's
    own folder may be read-only)."""
    folder = Path(tempfile.gettempdir()) / "btm-ppa-locks"
    folder.mkdir(exist_ok=True)
    with contextlib.suppress(OSError):
        folder.chmod(0o1777)  # every user's refreshes share it, like /tmp
    digest = hashlib.sha256(str(target).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return folder / f"{digest}.lock"


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
        try:
            lock = filelock.FileLock(_lock_path(target), timeout=LOCK_TIMEOUT_S, mode=0o666)
            with lock:
                yield
        except filelock.Timeout:
            raise WorkbookUnavailableError(
                f"workbook {self.path.name} is being written by another refresh (waited "
                f"{LOCK_TIMEOUT_S:g} s): try again when it has finished") from None

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
            cached = {}
            if tab in book.sheetnames:
                cached = self._formula_results(target, book, tab, {
                    w.address for w in writes if w.tab in (None, tab)})
            self._save(book, target, tab, cached)

    def _formula_results(self, target: Path, book: openpyxl.Workbook, tab: str,
                         written: set[str]) -> dict[str, CellValue]:
        """Saved results of the tab's formulas the backend leaves in place."""
        formulas = {cell.coordinate: (cell.row, cell.column) for row in book[tab].iter_rows()
                    for cell in row if cell.data_type == "f" and cell.coordinate not in written}
        if not formulas:
            return {}
        max_row = max(r for r, _ in formulas.values())
        max_col = max(c for _, c in formulas.values())
        values_wb = self._open(target, data_only=True, read_only=True)
        try:
            results: dict[str, CellValue] = {}
            rows = values_wb[tab].iter_rows(min_row=1, max_row=max_row, min_col=1,
                                            max_col=max_col, values_only=True)
            for r, values in enumerate(rows, start=1):
                for c, value in enumerate(values, start=1):
                    address = f"{get_column_letter(c)}{r}"
                    if value is not None and address in formulas:
                        results[address] = value
            return results
        finally:
            values_wb.close()

    def _save(self, book: openpyxl.Workbook, target: Path, tab: str,
              cached: Mapping[str, CellValue]) -> None:
        info = os.stat(target)
        tmp = target.parent / temp_name(target)
        in_place = False
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        except OSError:  # a folder we cannot write in: finish the file elsewhere
            fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".xlsx")
            os.close(fd)
            tmp, in_place = Path(name), True
        try:
            book.save(str(tmp))
            if cached:
                _put_back_results(tmp, tab, cached)
            if in_place:
                with open(tmp, "rb") as src, open(target, "r+b") as out:
                    shutil.copyfileobj(src, out)
                    out.truncate()
                    out.flush()
                    os.fsync(out.fileno())
                return
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


def _sheet_member(archive: zipfile.ZipFile, tab: str) -> str | None:
    """The zip member holding ``tab``'s cells."""
    import xml.etree.ElementTree as ET

    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    workbook = ET.fromstring(archive.read("xl/workbook.xml"))
    rid = next((s.get(f"{rel_ns}id") for s in workbook.iter(f"{main}sheet")
                if s.get("name") == tab), None)
    rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for rel in rels:
        if rel.get("Id") == rid:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else str(
                PurePosixPath("xl") / target)
    return None


_FORMULA_CELL = re.compile(
    r'<c r="([A-Z]{1,3}\d+)"((?: [A-Za-z:]+="[^"]*")*)>(<f(?: [^>]*)?>[^<]*</f>)<v ?/></c>')


def _result_xml(address: str, attrs: str, formula: str, value: CellValue) -> str:
    from openpyxl.cell.cell import ERROR_CODES

    attrs = re.sub(r' t="[^"]*"', "", attrs)
    if isinstance(value, bool):
        kind, text = "b", "1" if value else "0"
    elif isinstance(value, int | float):
        kind, text = "", repr(float(value)) if isinstance(value, float) else str(value)
    elif isinstance(value, dt.datetime | dt.date):
        kind, text = "", repr(float(to_excel(value)))
    elif isinstance(value, str) and value in ERROR_CODES:
        kind, text = "e", escape(value)
    else:
        kind, text = "str", escape(str(value))
    t = f' t="{kind}"' if kind else ""
    return f'<c r="{address}"{attrs}{t}>{formula}<v>{text}</v></c>'


def _put_back_results(path: Path, tab: str, cached: Mapping[str, CellValue]) -> None:
    """Write the saved results of ``cached`` formula cells back into the file openpyxl
    saved (it writes every formula with an empty result)."""
    with zipfile.ZipFile(path) as archive:
        member = _sheet_member(archive, tab)
        if member is None or member not in archive.namelist():
            return
        xml = archive.read(member).decode("utf-8")

        def put_back(match: re.Match[str]) -> str:
            address, attrs, formula = match.groups()
            if address not in cached:
                return match.group(0)
            return _result_xml(address, attrs, formula, cached[address])

        patched = _FORMULA_CELL.sub(put_back, xml)
        if patched == xml:
            return
        items = [(info, archive.read(info.filename)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in items:
            out.writestr(info, patched.encode("utf-8") if info.filename == member else data)


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

