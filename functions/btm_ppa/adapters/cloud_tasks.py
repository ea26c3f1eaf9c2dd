"""The nightly fan-out and deferred menu refreshes: one Cloud Tasks HTTP task per sheet,
with an OIDC token for the ``refresh`` function, through the real google-cloud-tasks
client (imported only when a task is created: it costs over a second to import).

The queue (rate, concurrency, retries) is made by deploy/deploy.sh, so that the Sheets
quota holds however many sheets are registered; this module only creates tasks.

Task names do the deduplication. Cloud Tasks refuses a task whose name is taken by a task
still queued, or run or deleted within about the last hour (ALREADY_EXISTS), and advises
names that start with a hash (sequential or timestamp-first names concentrate load and
slow dispatch). So a name is a hash of what makes the task one, then a readable tail:

- nightly: the night and the sheet, so a scheduler retry of the same night queues nothing
  twice;
- edits: the sheet and a window of ``EDIT_WINDOW_S`` seconds, and the task is scheduled
  for the window's end: every edit of a burst in that window finds the name taken and
  collapses into the one refresh, which runs after the last of them (so it reads them
  all); the next window's edits queue the next refresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from btm_ppa.errors import BtmError

_QUEUE_PATH = re.compile(r"^projects/[^/]+/locations/[^/]+/queues/[A-Za-z0-9-]+$")
#: Edits of one tab within a window of this many seconds make one refresh, run when the
#: window closes.
EDIT_WINDOW_S = 30


class TaskQueueError(BtmError):
    kind = "tasks"
    http_status = 502  # a dependency failed (btm_ppa.errors.outcome_of reads it)


@dataclass(frozen=True)
class TaskQueueConfig:
    queue: str  # projects/P/locations/L/queues/Q
    target_url: str  # the refresh function's URL (also the OIDC audience)
    service_account: str  # the identity the tasks call refresh as
    endpoint: str | None = None  # the API endpoint; tests point it at a loopback stand-in

    def __post_init__(self) -> None:
        if not _QUEUE_PATH.match(self.queue):
            raise ValueError(f"BTM_PPA_TASKS_QUEUE {self.queue!r} is not "
                             "projects/P/locations/L/queues/Q")


def task_id(*parts: str) -> str:
    """A task id (letters, digits, '-' and '_', at most 500) unique to ``parts``: a hash
    first, as Cloud Tasks advises, then the parts readable for the logs."""
    readable = re.sub(r"[^A-Za-z0-9_-]", "-", "-".join(parts))[:100]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
    return f"{digest}-{readable}"


def edit_task(spreadsheet_id: str, tab: str, now: dt.datetime,
              window_s: int | None = None) -> tuple[str, dt.datetime]:
    """The name and the schedule time of the refresh that an edit at ``now`` joins: one
    per tab per window, run when the window closes."""
    window_s = window_s or EDIT_WINDOW_S
    epoch_s = int(now.timestamp())
    start = epoch_s - epoch_s % window_s
    closes = dt.datetime.fromtimestamp(start + window_s, dt.UTC)
    return task_id("edit", spreadsheet_id, tab, str(start)), closes


class TaskQueue:
    def __init__(self, config: TaskQueueConfig, client: Any = None) -> None:
        self.config = config
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import tasks_v2

            # REST, as in the tests' stand-in: the very transport that is tested runs.
            options = {"api_endpoint": self.config.endpoint} if self.config.endpoint else None
            if self.config.endpoint and self.config.endpoint.startswith("http://"):
                from google.auth.credentials import AnonymousCredentials

                self._client = tasks_v2.CloudTasksClient(
                    credentials=AnonymousCredentials(), transport="rest", client_options=options)
            else:
                self._client = tasks_v2.CloudTasksClient(transport="rest", client_options=options)
        return self._client

    def enqueue(self, body: dict[str, Any], name: str | None = None,
                schedule_time: dt.datetime | None = None) -> str | None:
        """Create one HTTP task POSTing ``body`` to the refresh function (not before
        ``schedule_time``); returns the task's name, or None when a task of that name is
        queued or ran within the last hour (a duplicate)."""
        from google.api_core import exceptions as gexc
        from google.cloud import tasks_v2

        task = tasks_v2.Task(http_request=tasks_v2.HttpRequest(
            url=self.config.target_url, http_method=tasks_v2.HttpMethod.POST,
            headers={"Content-Type": "application/json"},
            body=json.dumps(body).encode(),
            oidc_token=tasks_v2.OidcToken(service_account_email=self.config.service_account,
                                          audience=self.config.target_url)))
        if name:
            task.name = f"{self.config.queue}/tasks/{name}"
        if schedule_time is not None:
            task.schedule_time = schedule_time.astimezone(dt.UTC)
        try:
            created = self.client.create_task(parent=self.config.queue, task=task, timeout=30)
        except gexc.Conflict:  # ALREADY_EXISTS (gRPC) or 409 (REST): a duplicate name
            return None
        except gexc.GoogleAPICallError as exc:
            raise TaskQueueError(f"Cloud Tasks refused a task on {self.config.queue}: "
                                 f"{exc.message}") from exc
        return str(created.name)
