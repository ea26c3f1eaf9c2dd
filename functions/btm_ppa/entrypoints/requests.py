"""Request bodies of the HTTP functions: checked before anything runs.

A body is read from raw bytes with limits a hostile caller cannot get round (size, nesting
depth, NUL characters, NaN and Infinity), then validated against a JSON schema per function
(types, required and unknown fields). Every refusal is a RequestError (HTTP 400) naming the
field, the value seen and what was expected.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from btm_ppa.errors import RequestError

#: Far above any real body (a few hundred bytes), far below what could hurt.
MAX_BODY_BYTES = 64 * 1024
#: The bodies are flat objects; anything nested deeper than this is not ours.
MAX_DEPTH = 8

_TAB_NAME = {"type": "string", "minLength": 1, "maxLength": 100,
             "pattern": r"^[^\[\]*?:/\\'\x00-\x1f]*\S[^\[\]*?:/\\'\x00-\x1f]*$"}
_DATE = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}  # ASCII digits
_DIGEST = {"type": "string", "pattern": r"^[0-9a-f]{32}$"}

SCHEMAS: dict[str, dict[str, Any]] = {
    "refresh": {
        "type": "object",
        "properties": {
            "spreadsheet_id": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{20,100}$"},
            "workbook": {"type": "string", "minLength": 1, "maxLength": 1024,
                         "pattern": r"^[^\x00-\x1f]+$"},
            "sheet": _TAB_NAME,
            "validate_only": {"type": "boolean"},
            "defer": {"type": "boolean"},
            "trigger": {"type": "string", "enum": ["menu", "edit", "nightly"]},
            # Cloud Tasks' calls of a sizing sweep (entrypoints/sizing_tasks.py)
            "size": {"type": "object", "required": ["digest", "power_kw", "duration_h"],
                     "properties": {"digest": _DIGEST,
                                    "power_kw": {"type": "number", "exclusiveMinimum": 0,
                                                 "maximum": 10_000_000},
                                    "duration_h": {"type": "number", "exclusiveMinimum": 0,
                                                   "maximum": 100}},
                     "additionalProperties": False},
            "sizing": {"type": "object", "required": ["digest"],
                       "properties": {"digest": _DIGEST, "final": {"type": "boolean"}},
                       "additionalProperties": False},
        },
        "additionalProperties": False,
        "oneOf": [{"required": ["spreadsheet_id"], "not": {"required": ["workbook"]}},
                  {"required": ["workbook"], "not": {"required": ["spreadsheet_id"]}}],
    },
    "ingest_prices": {
        "type": "object",
        "properties": {"start": _DATE, "end": _DATE},
        "additionalProperties": False,
    },
    "scheduled_refresh": {
        "type": "object",
        "properties": {"start": _DATE, "end": _DATE},
        "additionalProperties": False,
    },
    "vlp_register": {"type": "object", "properties": {}, "additionalProperties": False},
}

_EXPECTED = {
    "spreadsheet_id": "a spreadsheet id: 20-100 letters, digits, '-' or '_' (the part of "
                      "the sheet's URL after /d/)",
    "workbook": "the path of an .xlsx file under the workbook root",
    "sheet": "a tab name of 1 to 100 characters without []*?:/\\' or control characters",
    "validate_only": "true or false (a JSON boolean, not a string)",
    "defer": "true or false (a JSON boolean, not a string)",
    "trigger": "one of menu, edit, nightly",
    "size": 'a sizing task\'s {"digest": 32 hex digits, "power_kw": kW > 0, "duration_h": h > 0}',
    "sizing": 'a sizing gather\'s {"digest": 32 hex digits, "final": true or false}',
    "start": "a date as YYYY-MM-DD",
    "end": "a date as YYYY-MM-DD",
}


def _depth_exceeds(text: str, limit: int) -> bool:
    """Whether arrays/objects nest deeper than ``limit``, without parsing (a 100,000-deep
    body would exhaust the parser's recursion before any check ran)."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _no_constants(name: str) -> Any:
    raise RequestError(f"the body holds {name}, which JSON does not allow: send numbers, "
                       "strings and booleans")


def _no_nul(value: Any, path: str = "body") -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise RequestError(f'"{path}" holds a NUL character: expected printable text')
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                raise RequestError("a field name holds a NUL character: expected printable text")
            _no_nul(item, key)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item, path)


def parse_body(raw: bytes, function: str) -> dict[str, Any]:
    """The JSON object of a request body (an empty body is ``{}``), checked against the
    function's schema. Raises RequestError naming the field."""
    if len(raw) > MAX_BODY_BYTES:
        raise RequestError(f"the body is {len(raw):,} bytes: expected a small JSON object "
                           f"(at most {MAX_BODY_BYTES:,} bytes)")
    if not raw.strip():
        body: Any = {}
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError("the body is not UTF-8 text: expected a JSON object") from None
        if "\x00" in text:
            raise RequestError("the body holds a NUL byte: expected a JSON object of text")
        if _depth_exceeds(text, MAX_DEPTH):
            raise RequestError(f"the body nests deeper than {MAX_DEPTH} levels: expected a flat "
                               "JSON object")
        try:
            body = json.loads(text, parse_constant=_no_constants)
        except ValueError as exc:
            raise RequestError(f"the body is not valid JSON ({exc.args[0] if exc.args else exc}): "
                               "expected a JSON object") from None
    if not isinstance(body, dict):
        raise RequestError(f"the body is a JSON {type(body).__name__}: expected a JSON object")
    _no_nul(body)
    validate_body(body, function)
    return body


def validate_body(body: dict[str, Any], function: str) -> None:
    import jsonschema  # on first use: a cold start pays only for what its request needs

    schema = SCHEMAS.get(function, {"type": "object"})
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(body),
                    key=lambda e: (0 if e.validator == "additionalProperties" else 1 if e.path
                                   else 2, str(e.path)))
    if not errors:
        return
    error = errors[0]
    if error.validator == "additionalProperties":
        unknown = sorted(set(body) - set(schema["properties"]))
        allowed = ", ".join(f'"{k}"' for k in schema["properties"]) or "none"
        raise RequestError(f"unknown field(s): {', '.join(unknown)} (fields {function} takes: "
                           f"{allowed})")
    if error.path:
        field = str(error.path[0])
        value = body.get(field)
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise RequestError(f'"{field}" is {shown} ({type(value).__name__}): expected '
                           f"{_EXPECTED.get(field, error.message)}")
    if function == "refresh":
        raise RequestError('send exactly one of "spreadsheet_id" and "workbook"')
    raise RequestError(f"the body does not fit {function}: {error.message}")


RETRY_COUNT_HEADER = "X-CloudTasks-TaskRetryCount"


def retry_attempt(header: str | None) -> tuple[int, str | None]:
    """The run's attempt (1 for a first try) from Cloud Tasks' retry count, and a warning
    to log when the header is not a whole number (``abc``, ``1.5``): the sheet is already
    written when this is read, so such a run is recorded as a first attempt, never a 500
    (which would make Cloud Tasks retry a finished refresh)."""
    text = (header or "").strip()
    if not text:
        return 1, None
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text) + 1, None
    return 1, (f"{RETRY_COUNT_HEADER} {text[:40]!r} is not a whole number of retries; the "
               "run is recorded as attempt 1")


def _date(body: dict[str, Any], key: str, default: dt.date) -> dt.date:
    value = body.get(key)
    if value is None:
        return default
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise RequestError(f'"{key}" must be a date as YYYY-MM-DD, not {value!r}') from None


def ingest_window(body: dict[str, Any], days_back: int, max_days: int
                  ) -> tuple[dt.date, dt.date]:
    """The ingest's start and end (default: the last ``days_back`` days)."""
    from btm_ppa.core.periods import UK_TZ

    today = dt.datetime.now(UK_TZ).date()
    start = _date(body, "start", today - dt.timedelta(days=days_back))
    end = _date(body, "end", today)
    if end < start:
        raise RequestError(f'"end" {end} is before "start" {start}')
    if (end - start).days >= max_days:
        raise RequestError(f"at most {max_days} days per call")
    return start, end


def local_workbook_path(value: object) -> Path:
    """An .xlsx inside ``$BTM_PPA_WORKBOOK_ROOT`` (local workbooks are off without it)."""
    root_env = os.environ.get("BTM_PPA_WORKBOOK_ROOT")
    if not root_env:
        raise RequestError('local workbooks are disabled here (no BTM_PPA_WORKBOOK_ROOT); '
                         'send "spreadsheet_id"')
    if not isinstance(value, str) or not value.strip():
        raise RequestError('"workbook" must be the path of an .xlsx file')
    try:
        root = Path(root_env).resolve()
        path = (root / value).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before 3.13)
        raise RequestError(f'"workbook" {value!r} cannot be resolved ({type(exc).__name__}: '
                         f"{str(exc)[:80]}): expected an .xlsx file, not a link loop") from None
    if not path.is_relative_to(root):
        raise RequestError(f'"workbook" {value[:200]!r} leads outside the workbook root {root} '
                         "(.., an absolute path or a link): expected an .xlsx file inside "
                         "the workbook root, as a path relative to it")
    if path.suffix.lower() != ".xlsx":
        raise RequestError(f'"workbook" {value!r} is not an .xlsx file: expected a name ending .xlsx')
    return path
