"""BigQuery as the price warehouse: the package's SQL as written, named parameters, the
dataset as the job's default dataset, a byte budget per query, and no Storage API
(``create_bqstorage_client=False``: it is not reachable from every network, and the
results here are small)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import numpy as np
import pandas as pd
from google.api_core import exceptions as gexc
from google.cloud import bigquery

from btm_ppa.errors import WarehouseError
from btm_ppa.prices import schema
from btm_ppa.prices.warehouse import read_sql

#: Most bytes one query may bill: a year of prices is well under a megabyte.
DEFAULT_MAX_BYTES_BILLED = 1_000_000_000
QUERY_TIMEOUT_S = 60.0

#: A staging table left behind (the process died between load and delete) expires.
STAGING_EXPIRY = dt.timedelta(hours=6)

def table_schema(table: str) -> list[bigquery.SchemaField]:
    """The BigQuery schema of one of the price tables (``prices.schema.TABLES``)."""
    return [bigquery.SchemaField(c.name, c.bigquery_type,
                                 mode="REQUIRED" if c.required else "NULLABLE",
                                 description=c.description)
            for c in schema.TABLES[table]]


SYSTEM_PRICES_SCHEMA = table_schema(schema.TABLE)


def _parameter(name: str, value: Any) -> bigquery.ScalarQueryParameter:
    if isinstance(value, dt.datetime):
        return bigquery.ScalarQueryParameter(name, "TIMESTAMP", value)
    if isinstance(value, dt.date):
        return bigquery.ScalarQueryParameter(name, "DATE", value)
    if isinstance(value, int):
        return bigquery.ScalarQueryParameter(name, "INT64", value)
    return bigquery.ScalarQueryParameter(name, "STRING", str(value))


def _json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows for a JSON load job: dates and times as ISO text, NaN as null."""
    rows = []
    for record in frame.to_dict(orient="records"):
        row: dict[str, Any] = {}
        for key, value in record.items():
            if value is None or (isinstance(value, float) and value != value):
                row[key] = None
            elif isinstance(value, pd.Timestamp | dt.datetime):
                stamp = pd.Timestamp(value)
                row[key] = (stamp.tz_localize("UTC") if stamp.tzinfo is None
                            else stamp.tz_convert("UTC")).isoformat()
            elif isinstance(value, dt.date):
                row[key] = value.isoformat()
            else:
                row[key] = value.item() if isinstance(value, np.generic) else value
        rows.append(row)
    return rows


def schema_of(frame: pd.DataFrame) -> list[bigquery.SchemaField]:
    """A BigQuery schema for a frame: FLOAT64, INT64, BOOL, TIMESTAMP or STRING."""
    fields = []
    for name, dtype in frame.dtypes.items():
        kind = ("FLOAT64" if pd.api.types.is_float_dtype(dtype)
                else "BOOL" if pd.api.types.is_bool_dtype(dtype)
                else "INT64" if pd.api.types.is_integer_dtype(dtype)
                else "TIMESTAMP" if pd.api.types.is_datetime64_any_dtype(dtype)
                else "STRING")
        fields.append(bigquery.SchemaField(str(name), kind))
    return fields


class BigQueryWarehouse:
    """Prices in ``project.dataset.system_prices``, through an injected client."""

    def __init__(self, client: bigquery.Client, dataset: str,
                 maximum_bytes_billed: int = DEFAULT_MAX_BYTES_BILLED) -> None:
        if dataset.count(".") != 1:
            raise ValueError(f"dataset {dataset!r}: expected project.dataset")
        self.client = client
        self.dataset = dataset
        self.maximum_bytes_billed = maximum_bytes_billed
        self.description = f"BigQuery {dataset}"

    def _job_config(self, params: dict[str, Any] | None) -> bigquery.QueryJobConfig:
        return bigquery.QueryJobConfig(
            default_dataset=self.dataset,
            query_parameters=[_parameter(k, v) for k, v in (params or {}).items()],
            maximum_bytes_billed=self.maximum_bytes_billed,
        )

    def run(self, sql: str, params: dict[str, Any] | None = None, what: str = "query") -> Any:
        """Run SQL text and wait; errors become WarehouseError naming what failed."""
        try:
            # query().result() raises on SQL errors (query_and_wait does not, in the emulator).
            return self.client.query(sql, job_config=self._job_config(params)).result(
                timeout=QUERY_TIMEOUT_S)
        except gexc.NotFound as exc:
            detail = str(exc.message).split(";")[0].strip()
            raise WarehouseError(
                f"BigQuery {what} failed: {detail}. Create the dataset and tables with "
                "deploy/deploy.sh (or `btm-ppa ingest-prices` for system_prices)") from exc
        except (gexc.GoogleAPIError, TimeoutError) as exc:
            detail = str(exc).split("\n")[0]
            raise WarehouseError(f"BigQuery {what} failed: {detail}") from exc

    def query(self, sql_name: str, params: dict[str, dt.date] | None = None) -> pd.DataFrame:
        rows = self.run(read_sql(sql_name), params, what=sql_name)
        return rows.to_dataframe(create_bqstorage_client=False)

    def replace_days(self, frame: pd.DataFrame, table: str = schema.TABLE) -> int:
        """Replace every settlement date in ``frame`` with its rows, atomically: a load into
        a staging table, then one MERGE statement (all of it lands or none of it)."""
        if frame.empty:
            return 0
        frame = schema.conform(frame, table)
        fields = table_schema(table)
        staging = f"{self.dataset}.{table}_staging_{uuid.uuid4().hex[:12]}"
        try:
            staged = bigquery.Table(staging, schema=fields)
            staged.expires = dt.datetime.now(dt.UTC) + STAGING_EXPIRY
            self.client.create_table(staged)
            job = self.client.load_table_from_json(
                _json_rows(frame), staging, job_config=bigquery.LoadJobConfig(
                    schema=fields, write_disposition="WRITE_APPEND"))
            job.result(timeout=QUERY_TIMEOUT_S)
            sql = read_sql(f"merge_{table}").replace(f"{table}_staging", f"`{staging}`")
            self.run(sql, what="merge")
        except gexc.GoogleAPIError as exc:
            raise WarehouseError(f"BigQuery load of {table} failed: {exc}") from exc
        finally:
            self.client.delete_table(staging, not_found_ok=True)
        return len(frame)

    def replace_tables(self, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
        """Replace whole tables, each with one WRITE_TRUNCATE load job (a table is
        replaced whole or left as it was)."""
        counts = {}
        for name, frame in tables.items():
            try:
                job = self.client.load_table_from_json(
                    _json_rows(frame), f"{self.dataset}.{name}",
                    job_config=bigquery.LoadJobConfig(schema=schema_of(frame),
                                                      write_disposition="WRITE_TRUNCATE"))
                job.result(timeout=QUERY_TIMEOUT_S)
            except gexc.GoogleAPIError as exc:
                raise WarehouseError(f"BigQuery load of {name} failed: {exc}") from exc
            counts[name] = len(frame)
        return counts

    def count_rows(self, table: str) -> int:
        return int(next(iter(self.run(f"SELECT COUNT(*) AS n FROM `{self.dataset}.{table}`")))[0])

    def spreadsheet_registry(self) -> list[tuple[str, str | None]]:
        """The ``spreadsheet_registry`` table's enabled rows."""
        frame = self.query("spreadsheet_registry")
        return [(str(r.spreadsheet_id),
                 r.sheet.strip() if isinstance(r.sheet, str) and r.sheet.strip() else None)
                for r in frame.itertuples()]

    def create_tables(self) -> None:
        """The dataset and the partitioned price tables (``system_prices``,
        ``day_ahead_prices``), if missing."""
        self.client.create_dataset(self.dataset, exists_ok=True)
        for name in schema.TABLES:
            table = bigquery.Table(f"{self.dataset}.{name}", schema=table_schema(name))
            # About 48 rows a day: monthly partitions, clustered on the date (as deploy.sh).
            table.time_partitioning = bigquery.TimePartitioning(
                type_=bigquery.TimePartitioningType.MONTH, field="settlement_date")
            table.clustering_fields = ["settlement_date"]
            table.description = schema.DESCRIPTIONS[name]
            self.client.create_table(table, exists_ok=True)
