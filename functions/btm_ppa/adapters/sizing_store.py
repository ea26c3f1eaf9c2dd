"""Where the Cloud Tasks of a sizing sweep leave their sizes for the gather: the
``sizing_results`` table in BigQuery (schema deploy/bigquery/sizing_results.json; deploy.sh
makes it partitioned by day with partitions expiring after a week).

Rows are added with DML ``INSERT`` (a query job), not the streaming API: a DML statement's
rows are visible to every query that starts after its job completes, so the task that adds
a sweep's last size is sure to count them all (streamed rows may lag). A size valued
twice (a retried task) is two rows with the same figure; reads take one per size.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import bigquery

from btm_ppa.errors import WarehouseError

SIZING_TABLE = "sizing_results"
QUERY_TIMEOUT_S = 60.0
MAX_BYTES_BILLED = 100_000_000


class SizingStore:
    """A sweep's valued sizes by digest, in ``dataset.sizing_results``."""

    def __init__(self, client: bigquery.Client, dataset: str) -> None:
        self.client = client
        self.table = f"{dataset}.{SIZING_TABLE}"

    def _run(self, sql: str, params: list[Any], what: str) -> list[Any]:
        config = bigquery.QueryJobConfig(query_parameters=params,
                                         maximum_bytes_billed=MAX_BYTES_BILLED)
        try:
            job = self.client.query(sql, job_config=config, timeout=QUERY_TIMEOUT_S)
            return list(job.result(timeout=QUERY_TIMEOUT_S))
        except (gexc.GoogleAPIError, TimeoutError) as exc:
            raise WarehouseError(f"BigQuery failed {what} of the sizing sweep in {self.table}: "
                                 f"{exc}") from exc

    def valued(self, digest: str) -> dict[tuple[float, float], tuple[float, float]]:
        """(power kW, duration h) -> (P50 NPV £, seconds) of every size valued under
        ``digest``."""
        rows = self._run(
            f"SELECT power_kw, duration_h, MAX(npv_p50_gbp) AS npv, MAX(seconds) AS seconds "
            f"FROM `{self.table}` WHERE digest = @digest GROUP BY power_kw, duration_h",
            [bigquery.ScalarQueryParameter("digest", "STRING", digest)], "reading the sizes")
        return {(float(r["power_kw"]), float(r["duration_h"])):
                (float(r["npv"]), float(r["seconds"])) for r in rows}

    def add(self, digest: str, power_kw: float, duration_h: float, npv_p50_gbp: float,
            seconds: float, now: dt.datetime | None = None) -> None:
        """Add one valued size (the rows are visible to queries once this returns)."""
        now = now or dt.datetime.now(dt.UTC)
        params = [bigquery.ScalarQueryParameter("digest", "STRING", digest),
                  bigquery.ScalarQueryParameter("power_kw", "FLOAT64", power_kw),
                  bigquery.ScalarQueryParameter("duration_h", "FLOAT64", duration_h),
                  bigquery.ScalarQueryParameter("npv", "FLOAT64", npv_p50_gbp),
                  bigquery.ScalarQueryParameter("seconds", "FLOAT64", seconds),
                  bigquery.ScalarQueryParameter("valued_at", "TIMESTAMP", now)]
        self._run(f"INSERT INTO `{self.table}` (digest, power_kw, duration_h, npv_p50_gbp, "
                  "seconds, valued_at) VALUES (@digest, @power_kw, @duration_h, @npv, @seconds, "
                  "@valued_at)", params, "recording a size")
