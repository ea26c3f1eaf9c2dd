"""Hostile HTTP requests and auth faults: 400 naming the field for a bad body, 401/403 for
bad callers, 503 without internals when our side cannot check tokens or has no Google
credentials; nothing is written on any of them. And the one error table both entry points
use."""

from __future__ import annotations

import json

import functions_framework
import pytest

from btm_ppa.entrypoints import auth, runtime
from btm_ppa.entrypoints.auth import AuthConfig, AuthError, CertsCache, verify_caller
from btm_ppa.entrypoints.requests import MAX_DEPTH, parse_body
from btm_ppa.errors import (
    OUTCOMES,
    BtmError,
    ElexonError,
    ExitCode,
    InputError,
    InputErrors,
    LayoutError,
    PriceDataError,
    ReferenceDataError,
    RegisterError,
    RequestError,
    ServiceUnavailableError,
    WarehouseError,
    WorkbookUnavailableError,
    exit_code_for,
    http_status_for,
    outcome_of,
)
from tests.conftest import cell_values
from tests.google_tokens import TokenIssuer

pytestmark = pytest.mark.e2e

AUDIENCE = "test-audience"


@pytest.fixture
def client(example_xlsx, warehouse, monkeypatch):
    monkeypatch.setenv("BTM_PPA_WORKBOOK_ROOT", str(example_xlsx.parent))
    monkeypatch.setenv("BTM_PPA_AUTH", "off")
    runtime.inject("warehouse", warehouse)
    app = functions_framework.create_app(target="refresh", source="functions/main.py")
    yield app.test_client()
    runtime.inject("warehouse", None)


def _raw(client, data: bytes):
    return client.post("/", data=data, content_type="application/json")


# ---------------------------------------------------------------------- 5. bodies ----
@pytest.mark.parametrize("data, fragment", [
    (b'{"workbook": "bess.xlsx", "validate_only": "true"}', '"validate_only"'),
    (b'{"workbook": "bess.xlsx", "validate_only": 1}', "JSON boolean"),
    (b'{"workbook": "bess.xlsx", "validate_only": NaN}', "NaN"),
    (b'{"workbook": "bess.xlsx", "sheet": Infinity}', "Infinity"),
    (b'{"workbook": "bess.xlsx", "sheet": "BE\\u0000SS"}', "NUL"),
    (b'{"workbook": "bess.xlsx\x00"}', "NUL"),
    (b'{"workbook": "bess.xlsx", "sheet": 7}', '"sheet"'),
    (b'{"workbook": "bess.xlsx", "extra": {"a": 1}}', "unknown field(s): extra"),
    (b'{"workbook": ["bess.xlsx"]}', '"workbook"'),
    (b"[" * 100_000 + b"]" * 100_000, "bytes"),
    (b"[" * 5_000 + b"]" * 5_000, "nests deeper"),
    (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "nests deeper"),
    (b"\xff\xfe{}", "UTF-8"),
    (b'"just a string"', "JSON object"),
    (b"{" + b'"workbook": "' + b"x" * 70_000 + b'"}', "bytes"),
])
def test_a_malformed_body_is_400_naming_the_problem_and_writes_nothing(
        client, example_xlsx, data, fragment):
    before = cell_values(example_xlsx)
    response = _raw(client, data)
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["error"]["kind"] == "request" and fragment in body["error"]["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert cell_values(example_xlsx) == before


def test_validate_only_true_still_validates_without_writing(client, example_xlsx):
    before = cell_values(example_xlsx)
    response = client.post("/", json={"workbook": "bess.xlsx", "validate_only": True})
    assert response.status_code == 200 and response.get_json()["status"].startswith("VALID")
    assert cell_values(example_xlsx) == before


def test_a_body_nested_to_the_limit_is_not_refused_for_depth():
    with pytest.raises(RequestError, match="unknown field"):
        parse_body(b'{"x":' * (MAX_DEPTH - 1) + b"1" + b"}" * (MAX_DEPTH - 1), "refresh")
    with pytest.raises(RequestError, match="nests deeper"):
        parse_body(b'{"x":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), "refresh")


def test_brackets_inside_strings_do_not_count_as_nesting():
    body = parse_body(json.dumps({"workbook": "[" * 100 + ".xlsx"}).encode(), "refresh")
    assert body["workbook"].startswith("[[[")


def test_a_spreadsheet_id_without_google_credentials_is_503_without_internals(
        monkeypatch, tmp_path):
    monkeypatch.setenv("BTM_PPA_AUTH", "off")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("BTM_PPA_BIGQUERY_DATASET", raising=False)
    runtime.inject("sheets", None)
    app = functions_framework.create_app(target="refresh", source="functions/main.py")
    response = app.test_client().post("/", json={"spreadsheet_id": "a" * 44})
    assert response.status_code == 503, response.get_json()
    message = response.get_json()["error"]["message"]
    assert "no Google credentials" in message and "missing.json" not in message


def test_ingest_dates_must_be_dates(monkeypatch):
    with pytest.raises(RequestError, match=r'"start".*YYYY-MM-DD'):
        parse_body(b'{"start": "yesterday"}', "ingest_prices")
    with pytest.raises(RequestError, match="unknown field"):
        parse_body(b'{"x": 1}', "vlp_register")


# ------------------------------------------------------------------------- 10. auth ----
@pytest.fixture
def issuer():
    with TokenIssuer() as server:
        yield server


@pytest.fixture
def config(issuer):
    return AuthConfig(enabled=True, audiences=(AUDIENCE,), allowed_callers=("@example.com",),
                      allowed_spreadsheets=(), certs_url=issuer.certs_url)


@pytest.mark.parametrize("verified", ["false", "true", 1, None])
def test_email_verified_must_be_the_boolean_true(issuer, config, verified):
    with pytest.raises(AuthError) as info:
        verify_caller(f"Bearer {issuer.token(email_verified=verified)}", config)
    assert info.value.http_status == 403


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "  bearer"])
def test_the_bearer_scheme_is_case_insensitive(issuer, config, scheme):
    assert verify_caller(f"{scheme} {issuer.token()}", config) == "analyst@example.com"


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize("header", [
    "Basic abc", "Bearer", "Bearer a b", "token", "Bearer a.b.c", "Bearer " + "x" * 5000,
    "Bearer " + ".".join(map(_b64, (b"[]", b"{}", b"sig"))),
    "Bearer " + ".".join(map(_b64, (b'{"alg": "RS256", "kid": 5}', b"[1]", b"sig"))),
    "Bearer " + ".".join(map(_b64, (b"null", b"null", b""))),
])
def test_other_schemes_and_malformed_tokens_are_401(config, header):
    with pytest.raises(AuthError) as info:
        verify_caller(header, config)
    assert info.value.http_status == 401


def test_a_token_issued_a_few_seconds_in_the_future_is_accepted(issuer, config):
    assert verify_caller(f"Bearer {issuer.token(issued_in_s=5)}", config)
    with pytest.raises(AuthError, match="too early"):
        verify_caller(f"Bearer {issuer.token(issued_in_s=600)}", config)


def test_certificates_are_fetched_once_and_kept_as_google_says(issuer, config):
    for _ in range(5):
        verify_caller(f"Bearer {issuer.token()}", config)
    assert issuer.requests.count("/certs") == 1


def test_certificates_expire_after_max_age():
    class Response:
        status, data = 200, b'{"k": "pem"}'

        def __init__(self) -> None:
            self.headers = {"Cache-Control": "public, max-age=100"}

    calls = []

    def transport(url, method, timeout):
        calls.append(url)
        return Response()

    now = [1000.0]
    cache = CertsCache(clock=lambda: now[0])
    cache.get("u", transport)
    now[0] += 99
    cache.get("u", transport)
    assert len(calls) == 1
    now[0] += 2
    cache.get("u", transport)
    assert len(calls) == 2


def test_a_failure_to_fetch_certificates_is_503_without_internals(config, issuer):
    down = AuthConfig(enabled=True, audiences=(AUDIENCE,), allowed_callers=("@example.com",),
                      allowed_spreadsheets=(), certs_url="http://127.0.0.1:9/certs")
    with pytest.raises(AuthError) as info:
        verify_caller(f"Bearer {issuer.token()}", down)
    assert info.value.http_status == 503
    assert "127.0.0.1" not in info.value.message and "Connection" not in info.value.message
    issuer.faults.append(500)
    auth.CERTS.clear()
    with pytest.raises(AuthError) as info:
        verify_caller(f"Bearer {issuer.token()}", config)
    assert info.value.http_status == 503


def test_the_function_answers_503_when_certificates_cannot_be_fetched(
        issuer, monkeypatch, example_xlsx):
    monkeypatch.setenv("BTM_PPA_AUDIENCES", AUDIENCE)
    monkeypatch.setenv("BTM_PPA_ALLOWED_CALLERS", "@example.com")
    monkeypatch.setenv("BTM_PPA_CERTS_URL", "http://127.0.0.1:9/certs")
    monkeypatch.delenv("BTM_PPA_AUTH", raising=False)
    app = functions_framework.create_app(target="refresh", source="functions/main.py")
    response = app.test_client().post("/", json={"workbook": "x.xlsx"},
                                      headers={"Authorization": f"Bearer {issuer.token()}"})
    assert response.status_code == 503
    assert "127.0.0.1" not in response.get_data(as_text=True)


# -------------------------------------------------------------- the one error table ----
@pytest.mark.parametrize("error, exit_code, status", [
    (InputError("B45", "x", "a number"), ExitCode.INPUT, 422),
    (InputErrors([InputError("B45", "x", "a number")]), ExitCode.INPUT, 422),
    (LayoutError("A26 moved"), ExitCode.INPUT, 422),
    (PriceDataError("no prices"), ExitCode.PRICES, 422),
    (WorkbookUnavailableError("locked"), ExitCode.WORKBOOK, 409),
    (WarehouseError("down"), ExitCode.PRICES, 502),
    (ElexonError("down"), ExitCode.PRICES, 502),
    (RegisterError("bad record"), ExitCode.INPUT, 502),
    (ReferenceDataError("no tariff"), ExitCode.INPUT, 422),
    (RequestError("bad field"), ExitCode.USAGE, 400),
    (ServiceUnavailableError("later"), ExitCode.INTERNAL, 503),
    (AuthError("who?", 401), ExitCode.INTERNAL, 401),
    (BtmError("?"), ExitCode.INTERNAL, 500),
    (RuntimeError("bug"), ExitCode.INTERNAL, 500),
])
def test_one_table_gives_exit_code_and_status(error, exit_code, status):
    assert exit_code_for(error) == exit_code and http_status_for(error) == status


def test_the_table_resolves_along_the_class_hierarchy():
    class NewWorkbookProblem(WorkbookUnavailableError):
        pass

    assert outcome_of(NewWorkbookProblem("x")) == OUTCOMES[WorkbookUnavailableError]
    assert exit_code_for(None) == ExitCode.OK and http_status_for(None) == 200


def test_the_readme_lists_the_table_as_it_is():
    from pathlib import Path

    readme = " ".join(" ".join(Path(page).read_text() for page in (
        "README.md", "docs/http-functions.md")).split())
    for phrase in ("3 a cell is wrong", "4 workbook missing, locked or unwritable",
                   "5 no usable prices", "400 malformed request", "409 the workbook",
                   "422 the tab's content is wrong", "503"):
        assert phrase in readme, phrase
