"""The `btm-ppa` command: templates, refreshes, the demo, and exit codes."""

import openpyxl
import pytest

from btm_ppa.entrypoints.cli import main
from btm_ppa.entrypoints.report import ExitCode
from tests.conftest import cell, set_cells, status_cell


@pytest.fixture(autouse=True)
def _warehouse(warehouse, monkeypatch):
    monkeypatch.setenv("BTM_PPA_WAREHOUSE", str(warehouse.path))


def test_template_then_refresh_of_filled_inputs(tmp_path, capsys):
    path = tmp_path / "mine.xlsx"
    assert main(["template", "--out", str(path), "--no-deal"]) == ExitCode.OK
    assert main(["refresh", "--workbook", str(path)]) == ExitCode.INPUT  # inputs are blank
    assert "ERROR: " in capsys.readouterr().out
    ws = openpyxl.load_workbook(path)["BESS"]
    assert ws[status_cell()].value.startswith("ERROR: ")
    # Fill the documented input cells (the Layout tab lists them) and refresh again.
    from btm_ppa.sheet.example import EXAMPLE_BLOCKS, EXAMPLE_INPUTS
    from sheets_layout import load_bess_layout

    layout = load_bess_layout()
    values = {layout.input(k).cell: v for k, v in EXAMPLE_INPUTS.items()}
    for key, (v1, c1, v2, c2) in EXAMPLE_BLOCKS.items():
        row = layout.block_row(key)
        values |= {layout.non_bess.volume_cell(row).cell: v1, layout.non_bess.cost_cell(row).cell: c1,
                   layout.bess.volume_cell(row).cell: v2, layout.bess.cost_cell(row).cell: c2}
    set_cells(path, values)
    assert main(["refresh", "--workbook", str(path)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "Profit" in out and "OK" in out
    # Every figure matches an independent recalculation to the penny.
    from decimal import Decimal

    from tests.independent import expected_rows

    ws = openpyxl.load_workbook(path)["BESS"]
    for row, columns in expected_rows(path, "_G").items():
        for col, want in columns.items():
            # £ to the penny; prices per MWh (row 40) written to 4 decimals; volumes to 1 Wh
            tolerance = (Decimal("0.005") if isinstance(want, Decimal)
                         else Decimal("5e-5") if row == "40" else Decimal("1e-6"))
            assert abs(Decimal(repr(ws[f"{col}{row}"].value)) - Decimal(repr(float(want)))) <= \
                tolerance, f"{col}{row}"


def test_template_does_not_overwrite_without_force(tmp_path, capsys):
    path = tmp_path / "mine.xlsx"
    path.write_bytes(b"precious")
    assert main(["template", "--out", str(path)]) == ExitCode.USAGE
    assert path.read_bytes() == b"precious"
    assert main(["template", "--out", str(path), "--force"]) == ExitCode.OK


def test_demo_prints_rows_50_to_62(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo.xlsx")]) == ExitCode.OK
    out = capsys.readouterr().out
    for label in ("Volume supplied to site", "PPA revenue", "VLP revenue", "Total cost",
                  "Profit per MWh", "Prices used", "Status"):
        assert label in out
    flat = " ".join(out.split())  # the table wraps long notes
    assert "17,568 of 17,568 SPs priced" in flat
    assert "source: embedded DuckDB warehouse (Elexon SSP/SBP/NIV (shipped))" in flat


def test_exit_codes_for_missing_workbook_and_bad_usage(tmp_path):
    assert main(["refresh", "--workbook", str(tmp_path / "none.xlsx")]) == ExitCode.WORKBOOK
    with pytest.raises(SystemExit) as info:
        main(["refresh"])
    assert info.value.code == ExitCode.USAGE


def test_exit_code_for_a_window_without_prices(tmp_path):
    path = tmp_path / "demo.xlsx"
    assert main(["template", "--out", str(path), "--example"]) == ExitCode.OK
    set_cells(path, {cell("window_start"): "2030-01-01", cell("window_end"): "2030-06-30"})
    assert main(["refresh", "--workbook", str(path)]) == ExitCode.PRICES


def test_vlp_register_writes_the_seed_json_and_csvs_and_loads_the_table(tmp_path, capsys,
                                                                          warehouse):
    import json

    from btm_ppa.reference.files import data_path

    sample = tmp_path / "units.json"
    sample.write_text(data_path("elexon_bmunits_storage_sample.json").read_text())
    out = tmp_path / "register" / "vlp_battery_units_data.json"
    assert main(["vlp-register", "--from", str(sample), "--out", str(out)]) == ExitCode.OK
    printed = capsys.readouterr().out
    assert "63 storage units of 63 records" in printed and "VLP 1 (0.0 MW)" in printed
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["metadata"]["total_battery_bmus"] == 63
    stamp = document["metadata"]["generated_date"][:19].replace("-", "").replace(":", "") \
        .replace("T", "_")
    csvs = sorted(p.name for p in out.parent.glob("*.csv"))
    assert csvs == sorted(f"{kind}_{stamp}.csv" for kind in (
        "battery_bmus_complete", "vlp_operated_batteries", "direct_operated_batteries"))
    assert warehouse.count_rows("vlp_battery_units") == 63
