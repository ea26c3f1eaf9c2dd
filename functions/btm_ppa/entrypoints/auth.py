"""Who may call the functions: a Google-signed ID token (audience, issuer, expiry checked)
from an allowlisted email or domain.

Callers: the add-on's Apps Script (``ScriptApp.getIdentityToken()``: the audience is the
script's OAuth client id) and Cloud Scheduler (OIDC token; the audience is the function
URL). Both audiences go in ``BTM_PPA_AUDIENCES``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import google.auth.transport.requests
from google.auth import exceptions as gauth_exceptions
from google.oauth2 import id_token

from btm_ppa.errors import BtmError

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})


class AuthError(BtmError):
    kind = "auth"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


@dataclass(frozen=True)
class AuthConfig:
    enabled: bool
    audiences: tuple[str, ...]
    allowed_callers: tuple[str, ...]  # emails, or domains written "@example.com"
    allowed_spreadsheets: tuple[str, ...]  # empty: any the service account can open
    certs_url: str = GOOGLE_CERTS_URL

    @classmethod
    def from_env(cls) -> AuthConfig:
        """``BTM_PPA_AUTH`` (``off`` only for local development), ``BTM_PPA_AUDIENCES``,
        ``BTM_PPA_ALLOWED_CALLERS``, ``BTM_PPA_ALLOWED_SPREADSHEETS``, ``BTM_PPA_CERTS_URL``."""
        return cls(
            enabled=os.environ.get("BTM_PPA_AUTH", "on").lower() != "off",
            audiences=_split(os.environ.get("BTM_PPA_AUDIENCES")),
            allowed_callers=tuple(c.lower() for c in _split(os.environ.get("BTM_PPA_ALLOWED_CALLERS"))),
            allowed_spreadsheets=_split(os.environ.get("BTM_PPA_ALLOWED_SPREADSHEETS")),
            certs_url=os.environ.get("BTM_PPA_CERTS_URL", GOOGLE_CERTS_URL),
        )

    def caller_allowed(self, email: str) -> bool:
        email = email.lower()
        domain = "@" + email.rpartition("@")[2]
        return email in self.allowed_callers or domain in self.allowed_callers

    def check_spreadsheet(self, spreadsheet_id: str) -> None:
        if self.allowed_spreadsheets and spreadsheet_id not in self.allowed_spreadsheets:
            raise AuthError(f"spreadsheet {spreadsheet_id} is not registered with this backend",
                            403)


def verify_caller(authorization: str | None, config: AuthConfig,
                  transport: google.auth.transport.Request | None = None) -> str | None:
    """The verified caller's email, or None when auth is off. Raises AuthError: 401 for a
    missing or invalid token, 403 for a valid token from someone not allowlisted."""
    if not config.enabled:
        return None
    if not config.audiences:
        raise AuthError("the function has no BTM_PPA_AUDIENCES configured; refusing all calls", 500)
    if not authorization or not authorization.startswith("Bearer "):
        raise AuthError("missing 'Authorization: Bearer <Google ID token>'", 401)
    token = authorization.removeprefix("Bearer ").strip()
    try:
        claims = id_token.verify_token(
            token, transport or google.auth.transport.requests.Request(),
            audience=list(config.audiences), certs_url=config.certs_url)
    except (ValueError, gauth_exceptions.GoogleAuthError) as exc:
        raise AuthError(f"invalid ID token: {exc}", 401) from exc
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise AuthError(f"invalid ID token: issuer {claims.get('iss')!r} is not Google", 401)
    email = claims.get("email")
    if not email or not claims.get("email_verified", False):
        raise AuthError("ID token carries no verified email", 403)
    if not config.caller_allowed(email):
        raise AuthError(f"{email} may not call this function", 403)
    return str(email)
