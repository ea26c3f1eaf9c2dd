"""Shared fixtures: one embedded warehouse per test session, fresh workbooks per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.template import build_template
from sheets_layout import BessLayout, load_bess_layout


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
