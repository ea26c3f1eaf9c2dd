"""Shared fixtures: one embedded warehouse per test session, fresh workbooks per test;
and the test tiers.

Tiers (pytest markers, `make check` runs the first alone, `make test` all three):
- ``unit``: the pure core and parsers, hand-checkable numbers and properties, no files
  or servers;
- ``integration``: one adapter against a real local stand-in (an xlsx file, DuckDB, the
  BigQuery emulator, a loopback Sheets or Elexon API, node for the Apps Script);
- ``e2e``: a whole refresh through the CLI, the HTTP functions or the deployment.
A module's tier is set by ``pytestmark`` in the module, or else from ``TIERS`` below;
a module in neither counts as ``integration``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import openpyxl
import pytest

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.sheet.template import build_template
from sheets_layout import BessLayout, load_bess_layout
from tests.price_rows import shipped_rows

#: The functions' source: this checkout's functions/, or the staged copy the deployed tier
#: (tests/deployed_tier.sh, Python 3.12) installed the way the Python buildpack does.
FUNCTION_SOURCE = Path(os.environ.get("BTM_PPA_TEST_FUNCTION_SOURCE")
                       or Path(__file__).resolve().parents[1] / "functions")

TIERS = {
    "unit": {"test_area", "test_cells", "test_dispatch", "test_duos",
             "test_periods", "test_units", "test_valuation"},
    "e2e": {"test_bad_inputs", "test_cli", "test_cloud_functions", "test_deploy", "test_deployed",
            "test_http",
            "test_refresh_dispatch", "test_refresh_xlsx"},
}
_TIER_NAMES = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(name) for name in _TIER_NAMES):
            continue
        module = item.module.__name__.rpartition(".")[2] if item.module else ""
        tier = next((name for name, modules in TIERS.items() if module in modules), "integration")
        item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def layout() -> BessLayout:
    return load_bess_layout()


# Cell addresses of the BESS tab, looked up through the layout rather than hard-coded.
RESULT_PARTS = ("label", "stream1", "stream2", "total", "notes")  # the result columns, in order


def cell(key: str) -> str:
    """The address of an input cell: ``cell("method")`` -> ``"B22"``."""
    return load_bess_layout().input(key).cell


def before_april_2023() -> dict[str, float]:
    """Typed rates a window before April 2023 needs (no table holds them: BSUoS was a
    half-hourly price; the CfD levy table starts in 2023; RO is typed so that these tests
    do not depend on the RO table), and no fixed charges, for tests about something else."""
    return {cell("bsuos_gbp_per_mwh"): 20.0, cell("ro_gbp_per_mwh"): 25.0,
            cell("cfd_gbp_per_mwh"): 5.0,
            cell("tnuos_residual_gbp_per_day"): 0, cell("duos_fixed_gbp_per_day"): 0,
            cell("duos_capacity_p_per_kva_day"): 0}


def label_cell(key: str) -> str:
    """The address of an input's label: ``label_cell("method")`` -> ``"A22"``."""
    return load_bess_layout().input(key).label_cell


def result_cell(key: str, part: str = "total") -> str:
    """A results-table cell: ``result_cell("profit_gbp")`` -> ``"D59"``."""
    layout = load_bess_layout()
    return f"{layout.result_columns[RESULT_PARTS.index(part)]}{layout.result_row(key).row}"


def status_cell(part: str = "stream1") -> str:
    """The status row's message cell (``"B62"``), or another part of that row."""
    return result_cell("status", part)


def block_cell(block: str, row_key: str, what: str = "volume") -> str:
    """A DUoS/TNUoS/levies block cell: ``block_cell("bess", "ccl", "cost")`` -> ``"H35"``."""
    layout = load_bess_layout()
    blk = layout.bess if block == "bess" else layout.non_bess
    row = layout.block_row(row_key)
    spec = blk.volume_cell(row) if what == "volume" else blk.cost_cell(row)
    return spec.label_cell if what == "label" else spec.cell


def system_buy_cell(block: str, what: str) -> str:
    """A block's system-buy cell (``what``: average, volume or cost): ``"C42"`` for non-BESS cost."""
    layout = load_bess_layout()
    blk = layout.bess if block == "bess" else layout.non_bess
    return layout.system_buy_cells(blk)[what].cell


def ppa_cell(row: str, what: str = "volume") -> str:
    """A PPA-stream cell (``row``: stream1, stream2 or total; ``what``: volume or revenue)."""
    ppa = load_bess_layout().ppa
    return f"{ppa[what + '_column']}{ppa[row + '_row']}"


def anchor_cell(text_start: str) -> str:
    """The address of the layout anchor whose text starts with ``text_start``."""
    return next(a.cell for a in load_bess_layout().anchors if a.text.startswith(text_start))


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> DuckDbWarehouse:
    return DuckDbWarehouse(tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb")


@pytest.fixture
def gappy_warehouse(warehouse: DuckDbWarehouse, tmp_path: Path) -> DuckDbWarehouse:
    """A copy of the embedded warehouse without 2023-10-29 SP2-SP3 (a short gap, as an
    ingest from Elexon might leave one)."""
    import duckdb

    path = Path(shutil.copy(warehouse.path, tmp_path / "gappy.duckdb"))
    with duckdb.connect(str(path)) as con:
        con.execute("DELETE FROM system_prices WHERE settlement_date = DATE '2023-10-29' "
                    "AND settlement_period IN (2, 3)")
    return DuckDbWarehouse(path)


@pytest.fixture(scope="session")
def _example_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("master") / "example.xlsx", example=True)


@pytest.fixture
def example_xlsx(tmp_path: Path, _example_master: Path) -> Path:
    """A fresh copy of the template filled with the seed-004 worked example."""
    return Path(shutil.copy(_example_master, tmp_path / "bess.xlsx"))


def set_cells(path: Path, values: dict[str, object], tab: str = "BESS") -> None:
    """Edit a workbook as an analyst would (openpyxl keeps the rest as it was)."""
    book = openpyxl.load_workbook(path)
    for address, value in values.items():
        book[tab][address] = value
    book.save(path)


def cell_values(path: Path, tab: str = "BESS", cell_range: str = "A1:H62") -> dict[str, object]:
    """Every non-empty cell of a range (formulas as text), for before/after comparisons."""
    sheet = openpyxl.load_workbook(path)[tab]
    return {c.coordinate: c.value for row in sheet[cell_range] for c in row if c.value is not None}


def refresh_refused(path: Path, warehouse, edits: dict, address: str,
                    *fragments: str) -> tuple[object, set[str]]:
    """Write ``edits``, refresh, and check the refresh was refused by ``address``: the
    status row says ERROR, names the cell and holds every fragment. Returns the outcome and
    the cells of A1:H62 that changed, for the caller to bound."""
    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.refresh import refresh

    set_cells(path, edits)
    before = cell_values(path)
    outcome = refresh(XlsxWorkbook(path), warehouse)
    assert not outcome.ok
    after = cell_values(path)
    status = after[status_cell()]
    assert status.startswith("ERROR: ") and address in status, status
    for fragment in fragments:
        assert fragment in status, status
    return outcome, {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


@pytest.fixture(scope="session")
def bq_emulator():
    """The BigQuery emulator, started once per session (about two seconds)."""
    import logging

    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    from google.cloud.bigquery import client as bq_client_module

    from tests.bq_emulator import Emulator

    # The emulator refuses the '*/*' part of small multipart uploads; resumable uploads
    # (which the client uses for large loads anyway) work, so use them for every load.
    saved = bq_client_module._MAX_MULTIPART_SIZE
    bq_client_module._MAX_MULTIPART_SIZE = 0
    with Emulator() as emulator:
        yield emulator
    bq_client_module._MAX_MULTIPART_SIZE = saved


@pytest.fixture(scope="session")
def bq_prices(bq_emulator, warehouse):
    """A BigQuery warehouse holding 2023-01-01 .. 2024-03-31 of the shipped prices (system
    prices, NIV and MID, as the embedded warehouse holds them; the example's window is
    charging year 2023/24), loaded through the adapter's own atomic replace (a staging
    load and one MERGE)."""
    from btm_ppa.adapters.bigquery_warehouse import BigQueryWarehouse
    store = BigQueryWarehouse(bq_emulator.client(), "test-project.btm")
    store.create_tables()
    store.replace_periods(shipped_rows(dt.date(2023, 1, 1), dt.date(2024, 3, 31)))
    return store
