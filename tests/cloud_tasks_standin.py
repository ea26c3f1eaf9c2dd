"""A loopback stand-in for the Cloud Tasks API v2 (REST), for the real google-cloud-tasks
client, that also dispatches the tasks, as Cloud Tasks does, to their HTTP targets.

Why not PyPI's gcloud-tasks-emulator (0.6.2, last released 2024): it speaks gRPC only,
pins protobuf < 5 (the current client needs newer), ignores a queue's rate limits,
concurrency and retry backoff, and sends no OIDC token, which is everything under test
here. This one implements the calls the backend and its tests use, strictly:

- ``POST /v2/projects/P/locations/L/queues`` (create; 409 if it exists), ``GET`` a queue
  (404 if missing), ``POST .../queues/Q/tasks`` (create; a target that is not http(s), a
  bad name or an OIDC token without a service account is 400).
- Names deduplicate as Cloud Tasks documents: a task name taken by a task still in the
  queue, or by one that ran (or gave up) within about the last hour
  (``DEDUP_WINDOW_S``), is 409 ALREADY_EXISTS; after that the name is free again.
- ``scheduleTime`` holds a task back until then.
- Dispatch honours ``rateLimits.maxDispatchesPerSecond`` and
  ``maxConcurrentDispatches``, retries any non-2xx answer with the queue's backoff
  (``minBackoff`` doubling ``maxDoublings`` times up to ``maxBackoff``) until
  ``maxAttempts``, and sends ``Authorization: Bearer <ID token>`` signed by the test
  issuer for the task's ``oidcToken`` (email = service account, aud = audience), and the
  ``X-CloudTasks-*`` headers.

``time_scale`` shrinks every duration (0.01: a second of the queue's clock is 10 ms), so a
night of 500 sheets runs in seconds; the Sheets stand-in's minute shrinks by the same.
``routes`` maps a target URL (the function's real URL) to the loopback address serving it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

_QUEUE = r"projects/[^/]+/locations/[^/]+/queues/[A-Za-z0-9-]+"
#: How long a name stays taken after its task has finished.
DEDUP_WINDOW_S = 3600.0
_TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
#: google.cloud.tasks.v2.HttpMethod (the REST client sends enums as their numbers).
_METHODS = {0: "POST", 1: "POST", 2: "GET", 3: "HEAD", 4: "PUT", 5: "DELETE", 6: "PATCH",
            7: "OPTIONS"}


def _seconds(duration: str | None, default: float) -> float:
    return float(duration.rstrip("s")) if duration else default


@dataclass
class _Task:
    name: str
    http: dict[str, Any]
    attempts: list[int] = field(default_factory=list)  # statuses answered
    done: bool = False
    schedule_time: dt.datetime | None = None
    not_before: float = 0.0  # the queue's clock (monotonic, scaled)
    dispatched_at: list[float] = field(default_factory=list)  # the queue's clock


@dataclass
class _Queue:
    spec: dict[str, Any]
    pending: list[tuple[float, _Task]] = field(default_factory=list)  # (not before, task)
    names: dict[str, float | None] = field(default_factory=dict)  # name -> finished at
    running: int = 0
    last_dispatch: float = 0.0


class CloudTasksStandIn:
    def __init__(self, token_issuer: Any, routes: dict[str, str] | None = None,
                 time_scale: float = 1.0) -> None:
        self.issuer = token_issuer
        self.routes = dict(routes or {})
        self.time_scale = time_scale
        self.queues: dict[str, _Queue] = {}
        self.tasks: dict[str, _Task] = {}
        self.paused = False  # like a paused queue: tasks are taken but not dispatched
        self.max_running_seen = 0
        self.dispatch_times: list[float] = []
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        self._threads = [threading.Thread(target=self._server.serve_forever, daemon=True),
                         threading.Thread(target=self._dispatch_loop, daemon=True)]
        self._session = requests.Session()

    def __enter__(self) -> CloudTasksStandIn:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        self._server.shutdown()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every queued task has finished (succeeded or given up)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while any(q.pending or q.running for q in self.queues.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.1))
        return True

    # -- the API ---------------------------------------------------------------------

    @Request.application
    def _app(self, request: Request) -> Response:
        path = request.path.removeprefix("/v2/")
        with self._lock:
            if request.method == "POST" and (m := re.fullmatch(r"(projects/[^/]+/locations/[^/]+)/queues",
                                                               path)):
                spec = json.loads(request.get_data() or b"{}")
                name = spec.get("name", "")
                if not re.fullmatch(_QUEUE, name) or not name.startswith(m.group(1) + "/"):
                    return self._error(400, f"invalid queue name {name!r}", "INVALID_ARGUMENT")
                if name in self.queues:
                    return self._error(409, "Queue already exists", "ALREADY_EXISTS")
                spec.setdefault("state", "RUNNING")
                self.queues[name] = _Queue(spec)
                return self._ok(spec)
            if request.method == "GET" and re.fullmatch(_QUEUE, path):
                if path not in self.queues:
                    return self._error(404, "Queue does not exist", "NOT_FOUND")
                return self._ok(self.queues[path].spec)
            if request.method == "POST" and (m := re.fullmatch(f"({_QUEUE})/tasks", path)):
                return self._create_task(m.group(1), json.loads(request.get_data() or b"{}"))
        return self._error(404, f"no such method {request.method} {request.path}", "NOT_FOUND")

    def _create_task(self, queue_name: str, body: dict[str, Any]) -> Response:
        queue = self.queues.get(queue_name)
        if queue is None:
            return self._error(404, "Queue does not exist", "NOT_FOUND")
        task = body.get("task", {})
        http = task.get("httpRequest") or {}
        if not re.match(r"^https?://", http.get("url", "")):
            return self._error(400, "HttpRequest.url must be an http or https URL",
                               "INVALID_ARGUMENT")
        oidc = http.get("oidcToken")
        if oidc is not None and not oidc.get("serviceAccountEmail"):
            return self._error(400, "oidcToken.serviceAccountEmail is required",
                               "INVALID_ARGUMENT")
        method = http.get("httpMethod", "POST")
        http["httpMethod"] = _METHODS.get(method, method) if isinstance(method, int) else method
        if http["httpMethod"] not in _METHODS.values():
            return self._error(400, f"invalid httpMethod {method!r}", "INVALID_ARGUMENT")
        name = task.get("name") or f"{queue_name}/tasks/{uuid.uuid4().int}"
        if not name.startswith(queue_name + "/tasks/") or not _TASK_ID.match(name.rsplit("/", 1)[1]):
            return self._error(400, f"invalid task name {name!r}", "INVALID_ARGUMENT")
        now = time.monotonic()
        if name in queue.names:
            finished = queue.names[name]
            if finished is None or now - finished < DEDUP_WINDOW_S * self.time_scale:
                return self._error(409, "Requested entity already exists", "ALREADY_EXISTS")
        queue.names[name] = None
        record = _Task(name, http)
        self.tasks[name] = record
        not_before = 0.0
        if task.get("scheduleTime"):
            when = dt.datetime.fromisoformat(task["scheduleTime"].replace("Z", "+00:00"))
            ahead_s = (when - dt.datetime.now(dt.UTC)).total_seconds()
            not_before = now + max(0.0, ahead_s) * self.time_scale
            record.schedule_time, record.not_before = when, not_before
        queue.pending.append((not_before, record))
        self._lock.notify_all()
        return self._ok({"name": name, "httpRequest": {"url": http["url"],
                                                       "httpMethod": http.get("httpMethod", "POST")},
                         "dispatchCount": 0})

    # -- dispatching ----------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                now = time.monotonic()
                chosen = None
                wake = now + 0.05
                for queue in [] if self.paused else self.queues.values():
                    limits = queue.spec.get("rateLimits", {})
                    interval = self.time_scale / float(limits.get("maxDispatchesPerSecond", 500))
                    if queue.running >= int(limits.get("maxConcurrentDispatches", 1000)):
                        continue
                    ready = [(t, task) for t, task in queue.pending if t <= now]
                    if not ready:
                        if queue.pending:
                            wake = min(wake, min(t for t, _ in queue.pending))
                        continue
                    if now < queue.last_dispatch + interval:
                        wake = min(wake, queue.last_dispatch + interval)
                        continue
                    chosen = (queue, ready[0])
                    break
                if chosen is None:
                    self._lock.wait(max(0.0, wake - now))
                    continue
                queue, entry = chosen
                queue.pending.remove(entry)
                queue.running += 1
                queue.last_dispatch = now
                self.dispatch_times.append(now)
                self.max_running_seen = max(self.max_running_seen, queue.running)
            threading.Thread(target=self._attempt, args=(queue, entry[1]), daemon=True).start()

    def _attempt(self, queue: _Queue, task: _Task) -> None:
        http = task.http
        headers = dict(http.get("headers", {}))
        task.dispatched_at.append(time.monotonic())
        headers.update({"X-CloudTasks-QueueName": queue.spec["name"].rsplit("/", 1)[1],
                        "X-CloudTasks-TaskName": task.name.rsplit("/", 1)[1],
                        "X-CloudTasks-TaskRetryCount": str(len(task.attempts))})
        if oidc := http.get("oidcToken"):
            token = self.issuer.token(email=oidc["serviceAccountEmail"],
                                      audience=oidc.get("audience") or http["url"])
            headers["Authorization"] = f"Bearer {token}"
        body = base64.b64decode(http.get("body", "")) if http.get("body") else b""
        url = self.routes.get(http["url"], http["url"])
        try:
            status = self._session.request(http["httpMethod"], url, data=body,
                                           headers=headers, timeout=600).status_code
        except Exception:  # unreachable target: the attempt fails, as in Cloud Tasks
            status = 503
        retry = queue.spec.get("retryConfig", {})
        with self._lock:
            task.attempts.append(status)
            queue.running -= 1
            if 200 <= status < 300:
                task.done = True
                queue.names[task.name] = time.monotonic()
            elif len(task.attempts) < int(retry.get("maxAttempts", 100)):
                doublings = min(len(task.attempts) - 1, int(retry.get("maxDoublings", 16)))
                backoff = min(_seconds(retry.get("minBackoff"), 0.1) * 2 ** doublings,
                              _seconds(retry.get("maxBackoff"), 3600))
                queue.pending.append((time.monotonic() + backoff * self.time_scale, task))
            else:  # gave up: the name stays taken for the window, as after success
                queue.names[task.name] = time.monotonic()
            self._lock.notify_all()

    @staticmethod
    def _ok(body: dict[str, Any]) -> Response:
        return Response(json.dumps(body), content_type="application/json")

    @staticmethod
    def _error(status: int, message: str, code: str) -> Response:
        return Response(json.dumps({"error": {"code": status, "message": message,
                                              "status": code}}),
                        status=status, content_type="application/json")
