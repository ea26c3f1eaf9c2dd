"""The one price schema: the ``system_prices`` columns, their types, and the map from
Elexon's field names to ours.

Everything else follows from here: ingestion (``prices/ingest.py``) and the embedded
warehouse build turn Elexon-shaped rows into frames with :func:`from_elexon`; the BigQuery
adapter's table schema is :func:`bigquery_fields`; and three files are generated from it
(``python -m btm_ppa.prices.schema`` rewrites them; ``tests/test_price_schema.py`` checks
they agree): ``prices/sql/create_system_prices.sql``, ``prices/sql/merge_system_prices.sql``
and ``deploy/bigquery/system_prices.json``.
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


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame with exactly the table's columns, in order and typed, sorted by key.

    Missing optional columns are added as nulls; a missing required column is a
    ValueError naming it.
    """
    out = pd.DataFrame(index=frame.index)
    for column in SYSTEM_PRICES:
        if column.name in frame:
            values = frame[column.name]
        elif column.required:
            raise ValueError(f"system prices lack the required column {column.name}")
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


def bigquery_json() -> list[dict[str, Any]]:
    """The table schema as ``bq mk --schema`` / the REST API take it."""
    return [{"name": c.name, "type": c.bigquery_type,
             "mode": "REQUIRED" if c.required else "NULLABLE", "description": c.description}
            for c in SYSTEM_PRICES]


def duckdb_columns() -> list[tuple[str, str]]:
    """(name, DuckDB type) of each column, as the embedded warehouse stores them."""
    return [(c.name, _DUCKDB_TYPE[c.bigquery_type]) for c in SYSTEM_PRICES]


def create_sql() -> str:
    """``create_system_prices.sql``: BigQuery DDL (DuckDB gets it through sqlglot)."""
    width = max(len(c.name) + len(c.bigquery_type) for c in SYSTEM_PRICES) + 11
    lines = []
    for i, c in enumerate(SYSTEM_PRICES):
        text = f"  {c.name} {c.bigquery_type}{' NOT NULL' if c.required else ''}"
        text += "," if i < len(SYSTEM_PRICES) - 1 else ""
        lines.append(f"{text.ljust(width)} -- {c.description}")
    return ("-- Generated from btm_ppa/prices/schema.py (python -m btm_ppa.prices.schema): do "
            "not edit.\n-- Half-hourly GB prices, one row per settlement period (about 48 "
            "a day). BigQuery\n-- partitions by month (daily partitions would hold a few KB "
            "each) and clusters on\n-- the date, so a window reads only its months' blocks.\n"
            f"CREATE TABLE IF NOT EXISTS {TABLE} (\n" + "\n".join(lines) + "\n)\n"
            "PARTITION BY DATE_TRUNC(settlement_date, MONTH)\nCLUSTER BY settlement_date\n")


def merge_sql() -> str:
    """``merge_system_prices.sql``: replace the days the staged rows hold, in one
    statement. A day the staged rows do not hold is left alone, so an empty answer from
    Elexon for one day never erases that day."""
    values = [c for c in COLUMNS if c not in KEY]
    update = ",\n".join(f"  {c} = staged.{c}" for c in values)
    columns = ", ".join(COLUMNS)
    staged = ", ".join(f"staged.{c}" for c in COLUMNS)
    return ("-- Generated from btm_ppa/prices/schema.py (python -m btm_ppa.prices.schema): do "
            "not edit.\n-- Replace every settlement date the staged rows hold, and only those"
            ": re-running a\n-- date replaces it and never duplicates it.\n"
            f"MERGE {TABLE} AS target\nUSING {TABLE}_staging AS staged\n"
            "ON target.settlement_date = staged.settlement_date\n"
            "  AND target.settlement_period = staged.settlement_period\n"
            f"WHEN MATCHED THEN UPDATE SET\n{update}\n"
            f"WHEN NOT MATCHED BY TARGET THEN INSERT ({columns})\n  VALUES ({staged})\n"
            "WHEN NOT MATCHED BY SOURCE AND target.settlement_date IN (\n"
            f"  SELECT DISTINCT settlement_date FROM {TABLE}_staging) THEN DELETE\n")


def generated_files(root: Path) -> dict[Path, str]:
    """Every file generated from the schema, by path under the repository root."""
    sql = root / "functions" / "btm_ppa" / "prices" / "sql"
    return {
        sql / "create_system_prices.sql": create_sql(),
        sql / "merge_system_prices.sql": merge_sql(),
        root / "deploy" / "bigquery" / "system_prices.json":
            json.dumps(bigquery_json(), indent=2, ensure_ascii=False) + "\n",
    }


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
