"""Where each sheet's refresh outcome is recorded for operators: a JSON log line always,
and with BigQuery a row in ``refresh_runs`` (streamed; schema deploy/bigquery/refresh_runs.json).
Analysts see the same outcome in the sheet's status row 62."""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

RUNS_TABLE = "refresh_runs"


@dataclass(frozen=True)
class RefreshRun:
    spreadsheet_id: str
    sheet: str
    trigger: str  # nightly, menu, edit
    started_at: dt.datetime
    finished_at: dt.datetime
    ok: bool
    status: str  # the status row's text (OK, ERROR: ...) or why nothing was written
    attempt: int  # 1 for a first try; Cloud Tasks retries count up
    caller: str | None

    def row(self) -> dict[str, Any]:
        row = asdict(self)
        row["started_at"] = self.started_at.isoformat()
        row["finished_at"] = self.finished_at.isoformat()
        row["status"] = self.status[:1_000]
        return row


class RunLog:
    """Records runs; ``client`` (a bigquery.Client) and ``dataset`` add the table row."""

    def __init__(self, client: Any = None, dataset: str | None = None) -> None:
        self.client = client
        self.table = f"{dataset}.{RUNS_TABLE}" if dataset else None

    def record(self, run: RefreshRun) -> None:
        row = run.row()
        print(json.dumps({"severity": "INFO" if run.ok else "WARNING",
                          "message": f"refresh run {run.status[:80]}", **row}),
              file=sys.stdout, flush=True)
        if self.client is None or self.table is None:
            return
        try:
            errors = self.client.insert_rows_json(self.table, [row])
        except Exception as exc:  # the run happened; a failed record must not undo it
            errors = [str(exc)]
        if errors:
            print(json.dumps({"severity": "ERROR", "message": "refresh run not recorded",
                              "table": self.table, "errors": errors}, default=str),
                  file=sys.stdout, flush=True)
