"""The GB battery register with VLP status (seed 000 done right) and the DNO reference
tables and lookup (seed 002 without the 403s)."""

import datetime as dt
import json
import statistics
from collections import Counter

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
from btm_ppa.register.bm_units import RegisterError, parse_bm_units
from btm_ppa.register.document import SEED_UNIT_FIELDS, UNIT_FIELDS, build_register
from btm_ppa.register.export import (
    WAREHOUSE_COLUMNS,
    csv_frames,
    make_register,
    register_frame,
    write_register_files,
    write_register_tab,
)
from btm_ppa.sheet.area import resolve_area
from tests.conftest import set_cells
from tests.loopback import LoopbackServer

SAMPLE = json.loads(data_path("elexon_bmunits_storage_sample.json").read_text())
SCHEMA = json.loads(data_path("../schemas/vlp_register.schema.json").read_text())
NOW = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def register():
    return build_register(parse_bm_units(SAMPLE), "sample", NOW)


def _secondary_parties() -> set[str]:
    return {r["leadPartyId"] for r in SAMPLE
            if r["bmUnitType"] == "V" or r["elexonBmUnit"].startswith("V__")}


def test_every_storage_unit_of_the_sample_is_found_with_evidence(register):
    assert register["metadata"]["total_battery_bmus"] == len(SAMPLE) == 63
    assert [u["elexonBmUnit"] for u in register["battery_units"]] == [
        r["elexonBmUnit"] for r in SAMPLE]
    assert all(u["storage_evidence"] for u in register["battery_units"])
    glassenbury = next(u for u in register["battery_units"] if u["elexonBmUnit"] == "2__JCPPR002")
    assert not any("name" in e for e in glassenbury["storage_evidence"])  # no keyword in its name


def test_vlp_status_follows_the_secondary_unit_evidence(register):
    for unit in register["battery_units"]:
        assert unit["is_vlp"] == (unit["leadPartyId"] in _secondary_parties())
    vlp = [u["elexonBmUnit"] for u in register["battery_units"] if u["is_vlp"]]
    assert vlp == ["V__MCEND001"]
    meta = register["metadata"]
    assert (meta["total_vlp_operated"], meta["total_direct_operated"]) == (1, 62)
    assert meta["vlp_percentage"] == round(100 / 63, 1)


def test_disagreements_with_the_seed_rule_are_listed(register):
    disagreements = register["summary_statistics"]["seed_rule_disagreements"]
    tesla = [d for d in disagreements if d["leadPartyName"] == "Tesla Motors Limited"]
    assert len(tesla) == 15
    assert all(d["seed_rule_says_vlp"] and not d["evidence_says_vlp"] for d in tesla)
    assert len(disagreements) == sum(u["seed_rule_disagrees"] for u in register["battery_units"])


def test_the_seed_flags_keep_honest_meanings(register):
    per_party = Counter(r["leadPartyId"] for r in SAMPLE)
    for unit in register["battery_units"]:
        # several BM units describe a portfolio; the seed's rule reads it as VLP evidence
        assert unit["multiple_assets"] == (per_party[unit["leadPartyId"]] > 1)
        assert unit["is_vlp_by_seed_rule"] == unit["multiple_assets"]
        assert unit["is_aggregator_code"] == unit["elexonBmUnit"].startswith(("V__", "2__"))
        assert (unit["aggregator_code_evidence"] is None) == (not unit["is_aggregator_code"])
    codes = {u["elexonBmUnit"]: u["aggregator_code_evidence"] for u in register["battery_units"]}
    assert "secondary BM unit" in codes["V__MCEND001"]
    assert "supplier BM unit" in codes["2__JCPPR002"] and "GSP group _J" in codes["2__JCPPR002"]
    flexitricity = [u for u in register["battery_units"] if u["leadPartyId"] == "FLEXTRCY"]
    assert all(u["is_vlp_by_name"] and not u["is_vlp"] for u in flexitricity)  # weak only


def test_register_json_validates_against_the_schema(register):
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    validator.validate(json.loads(json.dumps(register)))
    stats = register["summary_statistics"]
    by_status = stats["by_vlp_status"]
    assert by_status["vlp_operated"]["count"] + by_status["direct_operated"]["count"] == 63
    assert stats["total_capacity_mw"] == pytest.approx(
        sum(float(r["generationCapacity"]) for r in SAMPLE))
    assert stats["median_capacity_mw"] == pytest.approx(
        statistics.median(float(r["generationCapacity"]) for r in SAMPLE))
    assert sum(g["count"] for g in stats["by_gsp_group"].values()) == 63
    assert all(isinstance(u["generationCapacity"], float) for u in register["battery_units"])
    assert set(register["metadata"]["data_fields"]) == set(register["battery_units"][0])


@pytest.mark.parametrize("change", [
    lambda d: d["battery_units"][0].pop("is_vlp"),
    lambda d: d["battery_units"][0].update(generationCapacity="34.0"),
    lambda d: d["battery_units"][0].update(unexpected=1),
    lambda d: d["metadata"].pop("total_battery_bmus"),
    lambda d: d["summary_statistics"]["top_vlp_operators"][0].update(units=1),
])
def test_the_schema_refuses_another_shape(register, change):
    document = json.loads(json.dumps(register))
    change(document)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, SCHEMA)


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


def _facts(unit: dict) -> list:
    """A unit's fields in the warehouse's column order, evidence lists joined."""
    return [("; ".join(unit[k]) if isinstance(unit[k], list) else unit[k])
            for k in WAREHOUSE_COLUMNS]


def test_warehouse_columns_cover_every_unit_field_once():
    assert list(WAREHOUSE_COLUMNS) == list(UNIT_FIELDS)
    assert len(set(WAREHOUSE_COLUMNS.values())) == len(UNIT_FIELDS)


def test_register_loads_to_both_warehouses_and_a_tab_with_the_same_facts(
        register, tmp_path, bq_emulator, example_xlsx):
    import duckdb

    from btm_ppa.adapters.bigquery_warehouse import BigQueryWarehouse

    columns = [*WAREHOUSE_COLUMNS.values(), "generated_at"]
    expected = [_facts(u) for u in register["battery_units"]]
    frame = register_frame(register)
    embedded = DuckDbWarehouse(tmp_path / "w.duckdb")
    embedded.replace_tables({"vlp_battery_units": frame})
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        cursor = con.execute("SELECT * EXCLUDE (generated_at) FROM vlp_battery_units")
        stored = [list(row) for row in cursor.fetchall()]
        stored_columns = [d[0] for d in cursor.description]
        stamps = con.execute("SELECT DISTINCT epoch(generated_at) FROM vlp_battery_units").fetchall()
    assert stored_columns == columns[:-1] and stored == expected
    assert stamps == [(NOW.timestamp(),)]
    bq = BigQueryWarehouse(bq_emulator.client(), "test-project.register")
    bq.create_tables()
    bq.replace_tables({"vlp_battery_units": frame})
    bq.replace_tables({"vlp_battery_units": frame})  # replaced, not appended
    assert bq.count_rows("vlp_battery_units") == 63
    table = bq_emulator.client().get_table("test-project.register.vlp_battery_units")
    assert [f.name for f in table.schema] == columns
    write_register_tab(XlsxWorkbook(example_xlsx), register)
    tab = openpyxl.load_workbook(example_xlsx)["VLP Batteries"]
    rows = [list(r) for r in tab.iter_rows(values_only=True)]
    assert rows[0] == columns and len(rows) == 64
    assert [r[:-1] for r in rows[1:]] == expected  # numbers as numbers, flags as flags
    assert {r[-1] for r in rows[1:]} == {NOW.isoformat()}


def test_the_seed_csv_files_split_the_units_by_vlp_status(register, tmp_path):
    written = write_register_files(register, tmp_path / "vlp_battery_units_data.json")
    assert [p.name for p in written] == [
        "vlp_battery_units_data.json", "battery_bmus_complete_20261121_000000.csv",
        "vlp_operated_batteries_20261121_000000.csv",
        "direct_operated_batteries_20261121_000000.csv"]
    assert json.loads(written[0].read_text(encoding="utf-8")) == register
    every, vlp, direct = (pd.read_csv(p) for p in written[1:])
    assert list(every.columns) == list(UNIT_FIELDS)
    assert list(every.columns[:len(SEED_UNIT_FIELDS)]) == list(SEED_UNIT_FIELDS)
    assert list(every["elexonBmUnit"]) == [u["elexonBmUnit"] for u in register["battery_units"]]
    assert list(vlp["elexonBmUnit"]) == ["V__MCEND001"] and bool(vlp["is_vlp"].all())
    assert len(direct) == 62 and not direct["is_vlp"].any()
    assert every["generationCapacity"].sum() == pytest.approx(
        register["summary_statistics"]["total_capacity_mw"])
    assert set(csv_frames(register)) == {p.name for p in written[1:]}


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
    set_cells(example_xlsx, {"B21": "2025-12-31", "B8": "Non-Domestic Aggregated or CT Band 1",
                             "C10": 2.05})
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
    assert response.get_json()["total_battery_bmus"] == 63
    assert response.get_json()["summary_statistics"]["by_vlp_status"]["vlp_operated"]["count"] == 1
    assert store.count_rows("vlp_battery_units") == 63


def test_make_register_from_a_file(tmp_path):
    path = tmp_path / "units.json"
    path.write_text(json.dumps({"data": SAMPLE[:5]}))
    made = make_register(str(path))
    assert made["metadata"]["records_read"] == 5
    assert made["metadata"]["data_source"] == "file units.json (Elexon /reference/bmunits/all shape)"
