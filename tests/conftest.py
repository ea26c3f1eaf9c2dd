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

import shutil
from pathlib import Path

import openpyxl
import pytest

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.sheet.template import build_template
from sheets_layout import BessLayout, load_bess_layout

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


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> DuckDbWarehouse:
    return DuckDbWarehouse(tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb")


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
    """A BigQuery warehouse holding 2023 of the shipped prices, loaded through the
    adapter's own atomic replace (a staging load and one MERGE)."""
    import datetime as dt

    from btm_ppa.adapters.bigquery_warehouse import BigQueryWarehouse
    from btm_ppa.prices.ingest import read_price_csv
    from btm_ppa.reference.files import data_path

    store = BigQueryWarehouse(bq_emulator.client(), "test-project.btm")
    store.create_tables()
    path = data_path("gb_imbalance_price_detsys_2023-01-01_2024-05-31.csv")
    frame = read_price_csv(Path(str(path)), dt.date(2023, 1, 1), dt.date(2023, 12, 31),
                           dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    store.replace_days(frame)
    return store
