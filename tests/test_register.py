"""The GB battery register with VLP status (seed 000 done right) and the DNO reference
tables and lookup (seed 002 without the 403s)."""

import datetime as dt
import json

import jsonschema
import openpyxl
import pandas as pd
import pytest

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.adapters.elexon import ElexonClient
from btm_ppa.adapters.retry import RetryPolicy
from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.errors import InputError, WarehouseError
from btm_ppa.reference.files import data_path, read_gsp_groups
from btm_ppa.reference.tables import REFERENCE_TABLES, lookup, read_all_reference_tables
from btm_ppa.refresh import validate
from btm_ppa.register.bm_units import RegisterError, build_register, parse_bm_units
from btm_ppa.register.export import make_register, register_frame, write_register_tab
from btm_ppa.sheet.area import resolve_area
from tests.conftest import set_cells
from tests.loopback import LoopbackServer

SAMPLE = json.loads(data_path("elexon_bmunits_storage_sample.json").read_text())
SCHEMA = json.loads(data_path("../schemas/vlp_register.schema.json").read_text())
NOW = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def register():
    return build_register(parse_bm_units(SAMPLE), "sample", NOW)


def test_every_storage_unit_of_the_sample_is_found_with_evidence(register):
    assert register["summary_statistics"]["total_units"] == len(SAMPLE) == 63
    assert all(u["storage_evidence"] for u in register["units"])
    glassenbury = next(u for u in register["units"] if u["elexon_bm_unit"] == "2__JCPPR002")
    assert not any("name" in e for e in glassenbury["storage_evidence"])  # no keyword in its name


def test_vlp_status_follows_the_secondary_unit_evidence(register):
    secondary_parties = {r["leadPartyId"] for r in SAMPLE
                         if r["bmUnitType"] == "V" or r["elexonBmUnit"].startswith("V__")}
    for unit in register["units"]:
        assert unit["is_vlp"] == (unit["lead_party_id"] in secondary_parties)
    vlp = [u["elexon_bm_unit"] for u in register["units"] if u["is_vlp"]]
    assert vlp == ["V__MCEND001"]


def test_disagreements_with_the_seed_rule_are_listed(register):
    disagreements = register["summary_statistics"]["seed_rule_disagreements"]
    tesla = [d for d in disagreements if d["lead_party_name"] == "Tesla Motors Limited"]
    assert tesla and all(d["seed_rule_says_vlp"] and not d["evidence_says_vlp"] for d in tesla)
    assert len(disagreements) == sum(u["seed_rule_disagrees"] for u in register["units"])


def test_register_json_validates_against_the_schema(register):
    jsonschema.validate(json.loads(json.dumps(register, default=str)), SCHEMA)
    stats = register["summary_statistics"]
    assert stats["by_vlp_status"]["vlp"]["units"] + stats["by_vlp_status"]["direct"]["units"] == 63
    assert stats["total_export_capacity_mw"] == pytest.approx(
        sum(float(r["generationCapacity"]) for r in SAMPLE))
    assert all(isinstance(u["generation_capacity_mw"], float) for u in register["units"])


def test_a_data_envelope_is_accepted_too():
    assert len(parse_bm_units({"data": SAMPLE})) == 63


@pytest.mark.parametrize(("mutate", "says"), [
    (lambda r: r.pop("leadPartyId"), "lacks field(s): leadPartyId"),
    (lambda r: r.update(generationCapacity="fifty"), "'fifty' is not a number of MW"),
    (lambda r: r.update(gspGroupId="_Z"), "unknown GSP group '_Z'"),
])
def test_bad_records_are_named(mutate, says):
    records = json.loads(json.dumps(SAMPLE))
    mutate(records[5])
    with pytest.raises(RegisterError, match="record 5") as info:
        parse_bm_units(records)
    assert says in info.value.message


@pytest.mark.parametrize("payload", [{"units": []}, "text", 42])
def test_payload_must_be_an_array_or_data_envelope(payload):
    with pytest.raises(RegisterError, match="expected a JSON array"):
        parse_bm_units(payload)


def test_register_loads_to_both_warehouses_and_a_tab(register, tmp_path, bq_emulator,
                                                     example_xlsx):
    from btm_ppa.adapters.bigquery_warehouse import BigQueryWarehouse

    frame = register_frame(register)
    embedded = DuckDbWarehouse(tmp_path / "w.duckdb")
    embedded.replace_tables({"vlp_battery_units": frame})
    assert embedded.count_rows("vlp_battery_units") == 63
    bq = BigQueryWarehouse(bq_emulator.client(), "test-project.register")
    bq.create_tables()
    bq.replace_tables({"vlp_battery_units": frame})
    bq.replace_tables({"vlp_battery_units": frame})  # replaced, not appended
    assert bq.count_rows("vlp_battery_units") == 63
    write_register_tab(XlsxWorkbook(example_xlsx), register)
    tab = openpyxl.load_workbook(example_xlsx)["VLP Batteries"]
    assert tab.max_row == 64 and tab["A1"].value == "elexon_bm_unit"
    assert all(isinstance(tab[f"F{r}"].value, int | float) for r in range(2, 65))  # numbers


def test_reference_tables_load_with_the_source_row_counts(tmp_path, bq_emulator):
    from btm_ppa.adapters.bigquery_warehouse import BigQueryWarehouse

    tables = read_all_reference_tables(NOW)
    expected = {name: len(pd.read_csv(data_path(file).open("rb"))) for name, file in
                REFERENCE_TABLES.items()}
    embedded = DuckDbWarehouse(tmp_path / "w.duckdb")
    assert embedded.replace_tables(tables) == expected
    assert {n: embedded.count_rows(n) for n in tables} == expected
    bq = BigQueryWarehouse(bq_emulator.client(), "test-project.reference")
    bq.create_tables()
    bq.replace_tables(tables)
    assert {n: bq.count_rows(n) for n in tables} == expected
    assert set(tables["duos_unit_rates"]["source_version"]) == {
        tables["duos_unit_rates"]["source_version"].iloc[0]}


def test_a_failed_load_leaves_the_table_as_it_was(tmp_path):
    embedded = DuckDbWarehouse(tmp_path / "w.duckdb")
    tables = read_all_reference_tables(NOW)
    embedded.replace_tables(tables)
    bad = {"gsp_groups": tables["gsp_groups"].head(3), "duos_time_bands": object()}
    with pytest.raises(WarehouseError):
        embedded.replace_tables(bad)  # type: ignore[dict-item]
    assert embedded.count_rows("gsp_groups") == 14  # the transaction rolled back


def test_lookup_mpan_to_dno_bands_and_rates():
    group = resolve_area(read_gsp_groups(), "mpan", None, "area", "London")
    result = lookup(group, dt.date(2025, 6, 2), "LV Site Specific Band 1")
    assert result["dno"] == "London Power Networks (UKPN LPN)"
    assert result["weekday"]["red"] == "11:00-14:00 & 16:00-19:00"
    assert result["unit_rates_p_per_kwh"]["red"] == 4.2


def test_a_tariff_not_in_the_statement_is_refused_with_suggestions():
    group = resolve_area(read_gsp_groups(), "mpan", None, "area", "_C")
    with pytest.raises(InputError, match="not in the charging statement") as info:
        lookup(group, dt.date(2025, 6, 2), "LV Site Specfic Band 1")
    assert "LV Site Specific Band 1" in info.value.message


def test_validate_compares_duos_rates_with_the_published_tariff(example_xlsx):
    set_cells(example_xlsx, {"B21": "2025-12-31", "B8": "Non-Domestic Aggregated or CT Band 1"})
    outcome = validate(XlsxWorkbook(example_xlsx))
    assert outcome.ok
    assert any("differ from the published 2025/26" in w and "C10 2.05 vs 3.145" in w
               for w in outcome.warnings)
    set_cells(example_xlsx, {"B8": "No Such Tariff"})
    outcome = validate(XlsxWorkbook(example_xlsx))
    assert not outcome.ok and "B8" in outcome.status


def test_vlp_register_function_fetches_from_elexon(tmp_path, monkeypatch):
    import functions_framework

    from btm_ppa.entrypoints import runtime

    monkeypatch.setenv("BTM_PPA_AUTH", "off")
    with LoopbackServer() as elexon:
        elexon.route("/bmrs/api/v1/reference/bmunits/all", lambda request: (200, SAMPLE))
        runtime.inject("elexon", ElexonClient(base_url=f"{elexon.url}/bmrs/api/v1",
                                              policy=RetryPolicy(base_delay_s=0.01)))
        store = DuckDbWarehouse(tmp_path / "w.duckdb")
        runtime.inject("warehouse", store)
        client = functions_framework.create_app(target="vlp_register",
                                                source="functions/main.py").test_client()
        response = client.post("/", json={})
        runtime.inject("elexon", None)
        runtime.inject("warehouse", None)
    assert response.status_code == 200
    assert response.get_json()["summary_statistics"]["total_units"] == 63
    assert store.count_rows("vlp_battery_units") == 63


def test_make_register_from_a_file(tmp_path):
    path = tmp_path / "units.json"
    path.write_text(json.dumps({"data": SAMPLE[:5]}))
    assert make_register(str(path))["metadata"]["records_read"] == 5
