"""The BigQuery emulator (bqemulator 1.4.0: DuckDB + SQLGlot behind the BigQuery REST API)
on a thread, for the real google-cloud-bigquery client to talk to over loopback HTTP.

The emulator installs DuckDB's spatial extension at start-up; with no internet it is
installed once from the duckdb-extension-spatial wheel's file instead of downloaded.

``python -m tests.bq_emulator PORT`` serves it as a process of its own (the deployed tier
runs it from the development environment while the functions run on Python 3.12; the
tests then find it through ``BTM_PPA_TEST_BQ_ENDPOINT``), like the separate service
BigQuery is.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def install_spatial_from_wheel() -> None:
    import duckdb
    import duckdb_extension_spatial

    ext = (Path(duckdb_extension_spatial.__file__).parent / "extensions"
           / f"v{duckdb.__version__}" / "spatial.duckdb_extension")
    with duckdb.connect() as con:
        con.execute(f"INSTALL '{ext}'")


class Emulator:
    def __init__(self, port: int | None = None) -> None:
        external = os.environ.get("BTM_PPA_TEST_BQ_ENDPOINT")
        self._runner = None
        if external and port is None:  # one served by another process: use it
            self.port = int(external.rsplit(":", 1)[1])
            return
        from bqemulator.config import Settings
        from bqemulator.testing._thread_runner import ThreadedEmulator

        install_spatial_from_wheel()
        self.port = port or _free_port()
        self._runner = ThreadedEmulator(Settings(rest_port=self.port, grpc_port=_free_port()))

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, project: str = "test-project"):
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(project=project, credentials=AnonymousCredentials(),
                               client_options={"api_endpoint": self.endpoint})

    def __enter__(self) -> Emulator:
        if self._runner is not None:
            self._runner.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            self._runner.stop()


if __name__ == "__main__":
    import threading

    with Emulator(port=int(sys.argv[1])):
        print("ready", flush=True)
        threading.Event().wait()
