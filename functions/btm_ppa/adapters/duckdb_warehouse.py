"""The embedded price warehouse: DuckDB running the package's BigQuery SQL.

Why DuckDB rather than the BigQuery emulator for the default: it is one in-process
library (no server to start, nothing to download), loads the shipped prices in well
under a second, and sqlglot transpiles the same BigQuery Standard SQL text the BigQuery
adapter runs, so both engines answer the same queries. The emulator is used in the tests
of the BigQuery adapter instead.

The database is a file, built on first use from the price CSVs shipped with the package
and rebuilt when they change (a fingerprint is stored beside the data).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import tempfile
from importlib import resources
from pathlib import Path

import duckdb
import pandas as pd
import sqlglot
from sqlglot.errors import ErrorLevel

from btm_ppa.errors import WarehouseError
from btm_ppa.prices import schema, shipped
from btm_ppa.prices.warehouse import read_sql
from btm_ppa.reference import files as reference

#: 2: market index prices from prices.schema; 3: the 2016-2025 history (prices.shipped);
#: 4: the day-ahead series (day_ahead_prices)
SCHEMA_VERSION = 4


def default_path() -> Path:
    """``$BTM_PPA_WAREHOUSE``, else ``$XDG_CACHE_HOME/btm-ppa/warehouse.duckdb``."""
    if env := os.environ.get("BTM_PPA_WAREHOUSE"):
        return Path(env)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "btm-ppa" / "warehouse.duckdb"


@functools.cache
def to_duckdb(bigquery_sql: str) -> str:
    """Transpile BigQuery Standard SQL to DuckDB (``@name`` becomes ``$name``).

    BigQuery-only table options (PARTITION BY) have no DuckDB meaning and are dropped.
    """
    return sqlglot.transpile(bigquery_sql, read="bigquery", write="duckdb",
                             unsupported_level=ErrorLevel.IGNORE)[0]


def shipped_fingerprint() -> str:
    """What the built file depends on: the schema version, the shipped price files, the
    rules that read them (``prices/shipped.py``) and the tables' DDL."""
    digest = hashlib.sha256(f"schema {SCHEMA_VERSION}".encode())
    for name in shipped.FILES:
        digest.update(reference.data_path(name).read_bytes())
    code = resources.files("btm_ppa.prices")
    digest.update(code.joinpath("shipped.py").read_bytes())
    for table in schema.TABLES:
        digest.update(read_sql(f"create_{table}").encode())
    return digest.hexdigest()


def _load_shipped(con: duckdb.DuckDBPyConnection) -> None:
    built_at = pd.Timestamp.now(tz="UTC")
    for table, rows in ((schema.TABLE, shipped.system_prices(built_at)),
                        (schema.DAY_AHEAD_TABLE, shipped.day_ahead_prices(built_at))):
        con.execute(to_duckdb(read_sql(f"create_{table}")))
        _insert(con, table, rows)


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: pd.DataFrame) -> None:
    columns = ", ".join(schema.column_names(table))
    # DuckDB reads datetime64 far faster than Python date objects; the column is DATE.
    rows = rows.assign(settlement_date=pd.to_datetime(rows["settlement_date"]))
    con.register("incoming", rows)
    try:
        con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM incoming")
    finally:
        con.unregister("incoming")


#: Every DuckDB database file carries these bytes at offset 8.
_DUCKDB_MAGIC = b"DUCK"


def _what_is_there(path: Path) -> str:
    """A short description of a file that is not a warehouse, for messages."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        return f"a file that cannot be read ({exc.strerror or exc})"
    if not head:
        return "an empty file"
    if head.startswith(b"PK"):
        return "a zip file (an .xlsx workbook?)"
    if head.startswith(b"SQLite format"):
        return "an SQLite database"
    return "a file that is not a DuckDB database"


def _held_fingerprint(path: Path) -> str | None:
    """The fingerprint of the btm-ppa warehouse at ``path``; raises WarehouseError when the
    file is something else, which is never overwritten."""
    try:
        info = path.stat()
    except OSError as exc:
        raise WarehouseError(f"the warehouse path {path} cannot be used: "
                             f"{exc.strerror or exc}") from None
    if path.is_dir():
        raise WarehouseError(f"the warehouse path {path} is a folder: expected a DuckDB file "
                             "(it is created if missing), e.g. " + str(path / "warehouse.duckdb"))
    if not path.is_file() or info.st_size < 12:
        raise WarehouseError(f"the warehouse path {path} holds {_what_is_there(path)}, not a "
                             "btm-ppa warehouse; it was left as it is: give another path")
    with path.open("rb") as fh:
        magic = fh.read(12)[8:12]
    if magic != _DUCKDB_MAGIC:
        raise WarehouseError(f"the warehouse path {path} holds {_what_is_there(path)}, not a "
                             "btm-ppa warehouse; it was left as it is: give another path")
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables"
                                                 ).fetchall()}
            if "btm_ppa_meta" not in tables:
                raise WarehouseError(
                    f"the warehouse path {path} holds a DuckDB database that is not a btm-ppa "
                    "warehouse (no btm_ppa_meta table); it was left as it is: give another path")
            held = con.execute("SELECT fingerprint FROM btm_ppa_meta").fetchone()
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            raise WarehouseError(f"the warehouse {path} is in use by another process: try "
                                 "again when it has finished") from None
        if path != default_path():
            raise WarehouseError(
                f"the warehouse {path} cannot be read ({str(exc).splitlines()[0][:120]}); it was "
                "left as it is: delete it to have it rebuilt, or give another path") from None
        return None  # our own cache, from an older DuckDB or schema: rebuilt
    return str(held[0]) if held else None


def ensure_built(path: Path) -> None:
    """Build the warehouse file from the shipped prices unless it is already current.

    The file is built beside its final path and moved into place, so a reader never sees
    a half-loaded database and two first uses at once do not corrupt it. A file at the
    path that is not a btm-ppa warehouse is never overwritten.
    """
    fingerprint = shipped_fingerprint()
    if os.path.lexists(path) and _held_fingerprint(path) == fingerprint:
        return
    path = Path(os.path.realpath(path))  # a link to the warehouse is written through
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".warehouse-", suffix=".duckdb", dir=path.parent)
    except OSError as exc:
        raise WarehouseError(
            f"the warehouse cannot be created at {path}: {exc.strerror or exc}; set --warehouse "
            "or BTM_PPA_WAREHOUSE to a file in a folder you can write") from None
    os.close(fd)
    os.unlink(tmp_name)  # DuckDB wants to create the file itself
    try:
        with duckdb.connect(tmp_name) as con:
            _load_shipped(con)
            con.execute("CREATE TABLE btm_ppa_meta (fingerprint VARCHAR, built_at TIMESTAMP)")
            con.execute("INSERT INTO btm_ppa_meta VALUES (?, now())", [fingerprint])
        os.replace(tmp_name, path)
    except (OSError, duckdb.Error) as exc:
        raise WarehouseError(f"the warehouse could not be built at {path}: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None
    finally:
        for leftover in (tmp_name, tmp_name + ".wal"):
            if os.path.exists(leftover):
                os.unlink(leftover)


class DuckDbWarehouse:
    """The embedded default warehouse (a DuckDB file)."""

    def __init__(self, path: Path | None = None, *, build: bool = True) -> None:
        self.path = Path(path) if path else default_path()
        if build:
            ensure_built(self.path)
        self.description = "embedded DuckDB warehouse"

    def replace_days(self, frame: pd.DataFrame, table: str = schema.TABLE) -> int:
        """Replace every settlement date in ``frame`` with its rows, in one transaction;
        dates ``frame`` lacks are left as held."""
        if frame.empty:
            return 0
        frame = schema.conform(frame, table)
        try:
            with duckdb.connect(str(self.path)) as con:
                con.execute("BEGIN TRANSACTION")
                con.register("incoming", frame)
                con.execute(f"DELETE FROM {table} WHERE settlement_date IN "
                            "(SELECT DISTINCT settlement_date FROM incoming)")
                con.unregister("incoming")
                _insert(con, table, frame)
                con.execute("COMMIT")
        except duckdb.Error as exc:
            raise WarehouseError(f"embedded warehouse load failed: {exc}") from exc
        return len(frame)

    def replace_tables(self, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
        """Replace whole tables (reference data, the VLP register) in one transaction."""
        try:
            with duckdb.connect(str(self.path)) as con:
                con.execute("BEGIN TRANSACTION")
                for name, frame in tables.items():
                    con.register("incoming", frame)
                    con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM incoming')
                    con.unregister("incoming")
                con.execute("COMMIT")
        except duckdb.Error as exc:
            raise WarehouseError(f"embedded warehouse load failed: {exc}") from exc
        return {name: len(frame) for name, frame in tables.items()}

    def count_rows(self, table: str) -> int:
        with duckdb.connect(str(self.path), read_only=True) as con:
            row = con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
        return int(row[0]) if row else 0

    def create_tables(self) -> None:
        """The file is built with its tables on construction; nothing more to create."""
        ensure_built(self.path)

    def spreadsheet_registry(self) -> list[tuple[str, str | None]]:
        """The embedded warehouse keeps no registry (``BTM_PPA_SPREADSHEETS`` does)."""
        return []

    def query(self, sql_name: str, params: dict[str, dt.date] | None = None) -> pd.DataFrame:
        sql = to_duckdb(read_sql(sql_name))
        try:
            with duckdb.connect(str(self.path), read_only=True) as con:
                return con.execute(sql, params or {}).df()
        except duckdb.Error as exc:
            raise WarehouseError(f"embedded warehouse query {sql_name} failed: {exc}") from exc
