"""The one price schema: the ``system_prices`` and ``day_ahead_prices`` columns, their
types, and the map from Elexon's field names to ours.

Everything else follows from here: ingestion (``prices/ingest.py``) and the embedded
warehouse build turn Elexon-shaped rows into frames with :func:`from_elexon`; the BigQuery
adapter's table schema is :func:`bigquery_fields`; and three files are generated from it
(``python -m btm_ppa.prices.schema`` rewrites them; ``tests/test_price_schema.py`` checks
they agree), for each table: ``prices/sql/create_<table>.sql``,
``prices/sql/merge_<table>.sql`` and ``deploy/bigquery/<table>.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

TABLE = "system_prices"
DAY_AHEAD_TABLE = "day_ahead_prices"


@dataclass(frozen=True)
class Column:
    """One column of ``system_prices``."""

    name: str
    bigquery_type: str  # DATE, INT64, TIMESTAMP, FLOAT64 or STRING
    required: bool
    description: str
    elexon_field: str | None = None  # the Elexon API / CSV field it comes from


SYSTEM_PRICES: tuple[Column, ...] = (
    Column("settlement_date", "DATE", True, "UK local settlement day", "settlementDate"),
    Column("settlement_period", "INT64", True, "1..46/48/50", "settlementPeriod"),
    Column("start_time", "TIMESTAMP", True, "period start, UTC", "startTime"),
    Column("system_sell_price_gbp_per_mwh", "FLOAT64", False, "system sell price, £/MWh",
           "systemSellPrice"),
    Column("system_buy_price_gbp_per_mwh", "FLOAT64", True, "system buy price, £/MWh",
           "systemBuyPrice"),
    Column("market_index_price_gbp_per_mwh", "FLOAT64", False,
           "market index price (MID), volume-weighted over the data providers, £/MWh",
           "marketIndexPrice"),
    Column("net_imbalance_volume_mwh", "FLOAT64", False, "net imbalance volume, MWh",
           "netImbalanceVolume"),
    Column("source", "STRING", True, "where the row came from"),
    Column("ingested_at", "TIMESTAMP", True, "when the row was loaded, UTC"),
)

#: The day-ahead auction price (N2EX/ENTSO-E hourly, or half-hourly) per settlement period:
#: an hourly price is held on both of the hour's periods.
DAY_AHEAD_PRICES: tuple[Column, ...] = (
    Column("settlement_date", "DATE", True, "UK local settlement day", "settlementDate"),
    Column("settlement_period", "INT64", True, "1..46/48/50", "settlementPeriod"),
    Column("start_time", "TIMESTAMP", True, "period start, UTC", "startTime"),
    Column("day_ahead_price_gbp_per_mwh", "FLOAT64", True,
           "day-ahead auction price of the hour (or half hour) the period lies in, £/MWh",
           "dayAheadPrice"),
    Column("source", "STRING", True, "where the row came from"),
    Column("ingested_at", "TIMESTAMP", True, "when the row was loaded, UTC"),
)

#: Every price table's columns, by table name.
TABLES: dict[str, tuple[Column, ...]] = {TABLE: SYSTEM_PRICES, DAY_AHEAD_TABLE: DAY_AHEAD_PRICES}
#: What each table holds (BigQuery table descriptions).
DESCRIPTIONS = {TABLE: "GB system prices per settlement period",
                DAY_AHEAD_TABLE: "GB day-ahead auction prices per settlement period"}

#: Our column names in table order.
COLUMNS: tuple[str, ...] = tuple(c.name for c in SYSTEM_PRICES)
#: Elexon field -> our column (the Insights API's system-prices items, DETSYSPRICES CSVs).
ELEXON_FIELD_MAP: dict[str, str] = {c.elexon_field: c.name for c in SYSTEM_PRICES
                                    if c.elexon_field}
#: Fields a row must have to be loaded.
REQUIRED_ELEXON_FIELDS = tuple(c.elexon_field for c in SYSTEM_PRICES
                               if c.required and c.elexon_field)
#: The columns that form a row's key.
KEY = ("settlement_date", "settlement_period")

_DUCKDB_TYPE = {"DATE": "DATE", "INT64": "BIGINT", "TIMESTAMP": "TIMESTAMPTZ",
                "FLOAT64": "DOUBLE", "STRING": "VARCHAR"}


def conform(frame: pd.DataFrame, table: str = TABLE) -> pd.DataFrame:
    """A frame with exactly the table's columns, in order and typed, sorted by key.

    Missing optional columns are added as nulls; a missing required column is a
    ValueError naming it.
    """
    out = pd.DataFrame(index=frame.index)
    for column in TABLES[table]:
        if column.name in frame:
            values = frame[column.name]
        elif column.required:
            raise ValueError(f"{table} rows lack the required column {column.name}")
        else:
            values = pd.Series(None, index=frame.index, dtype="object")
        if column.bigquery_type == "DATE":
            out[column.name] = pd.to_datetime(values).dt.date if len(values) else values
        elif column.bigquery_type == "INT64":
            out[column.name] = values.astype("int64")
        elif column.bigquery_type == "FLOAT64":
            out[column.name] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif column.bigquery_type == "TIMESTAMP":
            out[column.name] = pd.to_datetime(values, utc=True)
        else:
            out[column.name] = values.astype("object")
    return out.sort_values(list(KEY)).reset_index(drop=True)


def from_elexon(raw: pd.DataFrame, source: str, ingested_at: dt.datetime) -> pd.DataFrame:
    """Elexon-shaped rows (API items or a DETSYSPRICES-style CSV) as table rows."""
    missing = [f for f in REQUIRED_ELEXON_FIELDS if f not in raw]
    if missing:
        raise ValueError(f"lacks the field(s) {', '.join(missing)}")
    renamed = raw[[f for f in ELEXON_FIELD_MAP if f in raw]].rename(columns=ELEXON_FIELD_MAP)
    renamed = renamed.assign(source=source, ingested_at=pd.Timestamp(ingested_at))
    return conform(renamed)


def bigquery_json(table: str = TABLE) -> list[dict[str, Any]]:
    """The table schema as ``bq mk --schema`` / the REST API take it."""
    return [{"name": c.name, "type": c.bigquery_type,
             "mode": "REQUIRED" if c.required else "NULLABLE", "description": c.description}
            for c in TABLES[table]]


def duckdb_columns(table: str = TABLE) -> list[tuple[str, str]]:
    """(name, DuckDB type) of each column, as the embedded warehouse stores them."""
    return [(c.name, _DUCKDB_TYPE[c.bigquery_type]) for c in TABLES[table]]


def column_names(table: str = TABLE) -> tuple[str, ...]:
    """The table's column names in order."""
    return tuple(c.name for c in TABLES[table])


def create_sql(table: str = TABLE) -> str:
    """``create_<table>.sql``: BigQuery DDL (DuckDB gets it through sqlglot)."""
    columns = TABLES[table]
    width = max(len(c.name) + len(c.bigquery_type) + 9 * c.required for c in columns) + 5
    lines = []
    for i, c in enumerate(columns):
        text = f"  {c.name} {c.bigquery_type}{' NOT NULL' if c.required else ''}"
        text += "," if i < len(columns) - 1 else ""
        lines.append(f"{text.ljust(width)} -- {c.description}")
    return ("-- Generated from btm_ppa/prices/schema.py (python -m btm_ppa.prices.schema): do "
            "not edit.\n-- Half-hourly GB prices, one row per settlement period (about 48 "
            "a day). BigQuery\n-- partitions by month (daily partitions would hold a few KB "
            "each) and clusters on\n-- the date, so a window reads only its months' blocks.\n"
            f"CREATE TABLE IF NOT EXISTS {table} (\n" + "\n".join(lines) + "\n)\n"
            "PARTITION BY DATE_TRUNC(settlement_date, MONTH)\nCLUSTER BY settlement_date\n")


def merge_sql(table: str = TABLE) -> str:
    """``merge_system_prices.sql``: replace the days the staged rows hold, in one
    statement. A day the staged rows do not hold is left alone, so an empty answer from
    Elexon for one day never erases that day."""
    names = column_names(table)
    values = [c for c in names if c not in KEY]
    update = ",\n".join(f"  {c} = staged.{c}" for c in values)
    columns = ", ".join(names)
    staged = ", ".join(f"staged.{c}" for c in names)
    return ("-- Generated from btm_ppa/prices/schema.py (python -m btm_ppa.prices.schema): do "
            "not edit.\n-- Replace every settlement date the staged rows hold, and only those"
            ": re-running a\n-- date replaces it and never duplicates it.\n"
            f"MERGE {table} AS target\nUSING {table}_staging AS staged\n"
            "ON target.settlement_date = staged.settlement_date\n"
            "  AND target.settlement_period = staged.settlement_period\n"
            f"WHEN MATCHED THEN UPDATE SET\n{update}\n"
            f"WHEN NOT MATCHED BY TARGET THEN INSERT ({columns})\n  VALUES ({staged})\n"
            "WHEN NOT MATCHED BY SOURCE AND target.settlement_date IN (\n"
            f"  SELECT DISTINCT settlement_date FROM {table}_staging) THEN DELETE\n")


def generated_files(root: Path) -> dict[Path, str]:
    """Every file generated from the schema, by path under the repository root."""
    sql = root / "functions" / "btm_ppa" / "prices" / "sql"
    files = {}
    for table in TABLES:
        files[sql / f"create_{table}.sql"] = create_sql(table)
        files[sql / f"merge_{table}.sql"] = merge_sql(table)
        files[root / "deploy" / "bigquery" / f"{table}.json"] = json.dumps(
            bigquery_json(table), indent=2, ensure_ascii=False) + "\n"
    return files


def repository_root() -> Path:
    here = Path(str(resources.files("btm_ppa")))
    return here.parent.parent


def main() -> int:
    for path, text in generated_files(repository_root()).items():
        path.write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
