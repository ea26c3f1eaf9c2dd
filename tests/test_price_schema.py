"""One price schema: the generated files agree with it, both engines hold exactly its
columns, and every warehouse adapter implements the whole Warehouse port."""

from __future__ import annotations

import datetime as dt
import inspect
import json

import pandas as pd
import pytest
import sqlglot

from btm_ppa.adapters.bigquery_warehouse import (
    SYSTEM_PRICES_SCHEMA,
    BigQueryWarehouse,
    table_schema,
)
from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.prices import schema
from btm_ppa.prices.warehouse import PriceWarehouse, read_sql


@pytest.mark.unit
def test_generated_files_are_up_to_date():
    """Run `python -m btm_ppa.prices.schema` after changing prices/schema.py."""
    for path, text in schema.generated_files(schema.repository_root()).items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale"


@pytest.mark.unit
@pytest.mark.parametrize("table", list(schema.TABLES))
def test_the_ddl_the_bigquery_schema_file_and_the_adapter_agree(table):
    ddl = sqlglot.parse_one(read_sql(f"create_{table}"), read="bigquery")
    columns = [(c.name, c.args["kind"].sql("bigquery"),
                any(isinstance(k.args.get("kind"), sqlglot.exp.NotNullColumnConstraint)
                    for k in c.constraints))
               for c in ddl.find_all(sqlglot.exp.ColumnDef)]
    assert columns == [(c.name, c.bigquery_type, c.required) for c in schema.TABLES[table]]
    deployed = json.loads((schema.repository_root() / "deploy" / "bigquery"
                           / f"{table}.json").read_text(encoding="utf-8"))
    assert [(f["name"], f["type"], f["mode"]) for f in deployed] == [
        (f.name, f.field_type, f.mode) for f in table_schema(table)]
    assert table_schema(schema.TABLE) == SYSTEM_PRICES_SCHEMA


@pytest.mark.unit
def test_the_merge_names_every_column_and_deletes_only_staged_days():
    merge = read_sql("merge_system_prices")
    tree = sqlglot.parse_one(merge, read="bigquery")
    inserted = [c.name for c in tree.find(sqlglot.exp.Insert).this.expressions]
    assert inserted == list(schema.COLUMNS)
    assert "IN (\n  SELECT DISTINCT settlement_date FROM system_prices_staging)" in merge
    assert "@first_date" not in merge and "BETWEEN" not in merge


@pytest.mark.unit
def test_elexon_rows_map_to_the_domain_columns():
    raw = pd.DataFrame({"settlementDate": ["2023-01-01"], "settlementPeriod": [1],
                        "startTime": ["2023-01-01T00:00:00Z"], "systemSellPrice": [-8.07],
                        "systemBuyPrice": [-8.07], "marketIndexPrice": [62.48]})
    rows = schema.from_elexon(raw, "test", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert list(rows.columns) == list(schema.COLUMNS)
    row = rows.iloc[0]
    assert row["settlement_date"] == dt.date(2023, 1, 1) and row["settlement_period"] == 1
    assert row["market_index_price_gbp_per_mwh"] == 62.48
    assert pd.isna(row["net_imbalance_volume_mwh"])
    assert str(rows["start_time"].dtype) == "datetime64[ns, UTC]" or "UTC" in str(
        rows["start_time"].dtype)
    with pytest.raises(ValueError, match="systemBuyPrice"):
        schema.from_elexon(raw.drop(columns="systemBuyPrice"), "test", dt.datetime.now(dt.UTC))


@pytest.mark.integration
def test_the_embedded_warehouse_holds_exactly_the_schema(warehouse):
    import duckdb

    for table in schema.TABLES:
        with duckdb.connect(str(warehouse.path), read_only=True) as con:
            held = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                               "WHERE table_name = ? ORDER BY ordinal_position", [table]
                               ).fetchall()
        assert [(n, t.replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")) for n, t in held] == \
            schema.duckdb_columns(table)
    mid = warehouse.query("price_date_range")
    assert (str(mid["first_mid_date"].iloc[0])[:10], str(mid["last_mid_date"].iloc[0])[:10]) == (
        "2023-01-01", "2025-06-01")


@pytest.mark.parametrize("adapter", [DuckDbWarehouse, BigQueryWarehouse])
@pytest.mark.unit
def test_every_adapter_implements_the_whole_port(adapter):
    port = {name: inspect.signature(member) for name, member in vars(PriceWarehouse).items()
            if callable(member) and not name.startswith("_")}
    assert set(port) == {"query", "create_tables", "replace_days", "replace_tables",
                         "count_rows", "spreadsheet_registry"}
    for name, signature in port.items():
        ours = inspect.signature(getattr(adapter, name))
        assert list(ours.parameters) == list(signature.parameters), name


@pytest.mark.unit
@pytest.mark.parametrize("name", ["system_prices_window", "price_date_range", "held_date_ranges",
                                  "day_ahead_prices_window",
                                  "recent_period_counts"])
def test_queries_name_only_schema_columns(name):
    tree = sqlglot.parse_one(read_sql(name), read="bigquery")
    aliases = {a.alias for a in tree.find_all(sqlglot.exp.Alias)}
    used = {c.name for c in tree.find_all(sqlglot.exp.Column)} - aliases
    known = {c for table in schema.TABLES for c in schema.column_names(table)}
    assert used and used <= known, used - known
