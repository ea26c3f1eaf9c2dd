"""A small loopback HTTP server for stand-ins (Elexon Insights, Google's token certs):
routes map a path to a handler returning (status, JSON body[, headers]); ``faults`` serves queued
statuses first; every request is recorded."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

Handler = Callable[[Request], tuple[Any, ...]]


class LoopbackServer:
    def __init__(self) -> None:
        self.routes: list[tuple[str, Handler]] = []
        self.faults: deque[int] = deque()
        self.requests: list[str] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def route(self, prefix: str, handler: Handler) -> None:
        self.routes.append((prefix, handler))

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    @Request.application
    def _app(self, request: Request) -> Response:
        self.requests.append(request.path)
        if self.faults:
            status = self.faults.popleft()
            return Response(json.dumps({"error": "injected"}), status=status,
                            content_type="application/json")
        for prefix, handler in self.routes:
            if request.path.startswith(prefix):
                status, body, *headers = handler(request)  # (status, body[, headers])
                return Response(json.dumps(body), status=status, content_type="application/json",
                                headers=headers[0] if headers else None)
        return Response(json.dumps({"error": "not found"}), status=404,
                        content_type="application/json")
