"""The Cloud Run front-door stand-in itself: what it admits, what it answers, and what it
forwards (an app that echoes the headers it was given)."""

import json

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from tests.front_door import REMOVED, FrontDoor
from tests.google_tokens import TokenIssuer

URL = "https://refresh-123456789012.europe-west2.run.app"
pytestmark = pytest.mark.integration


@Request.application
def _echo(request: Request) -> Response:
    return Response(json.dumps({k: v for k, v in request.headers.items()}),
                    content_type="application/json")


@pytest.fixture
def door():
    issuer = TokenIssuer()  # signs tokens; its certs are handed to the door directly
    gate = FrontDoor(_echo, url=URL, certs=issuer.public_certs, custom_audiences=["addon-id"],
                     invokers=["domain:example.com", "serviceAccount:tasks@p.iam.gserviceaccount.com",
                               "user:boss@gmail.com"])
    return gate, issuer, Client(gate)


def test_an_admitted_token_arrives_with_its_signature_removed(door):
    gate, issuer, client = door
    token = issuer.token(email="alice@example.com", audience=URL)
    seen = client.get("/", headers={"Authorization": f"Bearer {token}"}).json
    header, payload, _ = token.split(".")
    assert seen["Authorization"] == f"Bearer {header}.{payload}.{REMOVED}"
    assert gate.admitted == ["alice@example.com"]


def test_x_serverless_authorization_is_checked_and_authorization_passes_untouched(door):
    _, issuer, client = door
    token = issuer.token(email="tasks@p.iam.gserviceaccount.com", audience=URL)
    seen = client.get("/", headers={"X-Serverless-Authorization": f"Bearer {token}",
                                    "Authorization": "Bearer not-a-jwt"}).json
    assert seen["X-Serverless-Authorization"].endswith("." + REMOVED)
    assert seen["Authorization"] == "Bearer not-a-jwt"


@pytest.mark.parametrize(("kwargs", "status"), [
    ({"audience": "addon-id"}, 200),  # the service's custom audience
    ({"email": "boss@gmail.com"}, 200),  # a user binding
    ({"audience": "https://other-123456789012.europe-west2.run.app"}, 401),
    ({"expires_in_s": -60}, 401),
    ({"issuer": "https://evil.example"}, 401),
    ({"email": "mallory@elsewhere.com"}, 403),
    ({"email": "alice@example.com", "hd": None}, 403),  # not a Workspace account of the domain
])
def test_what_the_door_admits(door, kwargs, status):
    _, issuer, client = door
    token = issuer.token(**{"email": "alice@example.com", "audience": URL, **kwargs})
    assert client.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == status


def test_no_credentials_is_403_and_a_forged_signature_401(door):
    gate, issuer, client = door
    assert client.get("/").status_code == 403
    forged = TokenIssuer().token(email="alice@example.com", audience=URL)
    assert client.get("/", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    stripped = issuer.token(email="alice@example.com", audience=URL).rsplit(".", 1)[0] + "." + REMOVED
    assert client.get("/", headers={"Authorization": f"Bearer {stripped}"}).status_code == 401
    assert gate.admitted == []
