"""Who may call the functions: a Google ID token (issuer, audience, expiry checked) from
an allowlisted email or Workspace domain.

Callers: the add-on's Apps Script (``ScriptApp.getIdentityToken()``: the audience is the
script's OAuth client id) and Cloud Scheduler and Cloud Tasks (OIDC tokens; the audience is
the service URL). Both audiences go in ``BTM_PPA_AUDIENCES``.

Two places the check can run in (deploy/README.md, "Who may call"):

- **Behind Cloud Run's front door** (deployed; ``BTM_PPA_FRONT_DOOR=cloud-run`` set by
  deploy.sh, and ``K_SERVICE`` set by Cloud Run itself): Cloud Run has verified the token's
  signature, expiry, audience and the caller's invoker role before the request reaches the
  container, and forwards the token with its signature replaced by
  ``SIGNATURE_REMOVED_BY_GOOGLE`` (in ``X-Serverless-Authorization`` when the caller used
  that header, else in ``Authorization``). The signature cannot be checked again, so it is
  trusted; the claims are still checked here: issuer, audience, expiry, a verified email,
  ``hd`` for domain entries, the allowlist.
- **Anywhere else** (the functions framework on a laptop, the local server): nothing
  checked the token before, so its signature is verified against Google's certificates,
  and a token whose signature was removed or forged is refused.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import google.auth.transport.requests
from google.auth import exceptions as gauth_exceptions
from google.auth import jwt

from btm_ppa.errors import BtmError

log = logging.getLogger(__name__)

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
#: What Cloud Run puts in place of a verified token's signature before forwarding it.
SIGNATURE_REMOVED = "SIGNATURE_REMOVED_BY_GOOGLE"
#: The header Cloud Run checks instead of Authorization when a caller sends it.
SERVERLESS_AUTHORIZATION = "X-Serverless-Authorization"
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
#: Clocks of Google and of this instance may differ a little; tokens issued or expiring
#: within this many seconds of now are taken as valid.
CLOCK_SKEW_S = 60
#: How long certificates are kept when Google's answer has no max-age.
DEFAULT_CERTS_TTL_S = 300.0
#: Fetch again early (keys rotated) at most this often, so bad tokens cannot make every
#: request fetch.
MIN_REFETCH_S = 60.0
_BEARER = re.compile(r"^\s*bearer\s+(\S+)\s*$", re.IGNORECASE)
_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.IGNORECASE)


class AuthError(BtmError):
    """A refused call. ``http_status`` is 401 (no or bad token), 403 (not allowed) or 503
    (our side cannot check tokens right now)."""

    kind = "auth"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
        self.http_status = status


class CertsCache:
    """Google's token-signing certificates, fetched once and kept as long as Google's
    ``Cache-Control: max-age`` says (certificates rotate daily and are published ahead)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, tuple[float, dict[str, str], float]] = {}
        self._clock = clock
        self.fetches = 0

    def get(self, url: str, transport: google.auth.transport.Request,
            refresh: bool = False) -> dict[str, str]:
        """The certificates at ``url``; ``refresh`` fetches again (a key id not held, or a
        signature that fails: Google rotated its keys), at most once a minute."""
        with self._lock:
            held = self._held.get(url)
            now = self._clock()
            if held and held[0] > now and not (refresh and now - held[2] >= MIN_REFETCH_S):
                return held[1]
            certs, ttl = self._fetch(url, transport)
            self._held[url] = (now + ttl, certs, now)
            return certs

    def clear(self) -> None:
        with self._lock:
            self._held.clear()

    def _fetch(self, url: str, transport: google.auth.transport.Request
               ) -> tuple[dict[str, str], float]:
        self.fetches += 1
        try:
            response = transport(url=url, method="GET", timeout=10)
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            data = response.data
            certs = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
            if not isinstance(certs, dict) or not certs:
                raise ValueError("no certificates in the answer")
        except Exception as exc:  # any failure here is ours to report, not the caller's
            log.warning("fetching token certificates from %s failed: %r", url, exc)
            raise AuthError("sign-in tokens cannot be checked right now; try again in a "
                            "minute", 503) from None
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        match = _MAX_AGE.search(headers.get("cache-control", ""))
        return certs, float(match.group(1)) if match else DEFAULT_CERTS_TTL_S


#: One per instance: certificates outlive requests.
CERTS = CertsCache()


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


@dataclass(frozen=True)
class AuthConfig:
    enabled: bool
    audiences: tuple[str, ...]
    allowed_callers: tuple[str, ...]  # emails, or Workspace domains written "@example.com"
    allowed_spreadsheets: tuple[str, ...]  # empty: any the service account can open
    certs_url: str = GOOGLE_CERTS_URL
    front_door: bool = False  # behind Cloud Run's IAM check (it verified the signature)

    @classmethod
    def from_env(cls) -> AuthConfig:
        """``BTM_PPA_AUTH`` (``off`` only for local development), ``BTM_PPA_AUDIENCES``,
        ``BTM_PPA_ALLOWED_CALLERS``, ``BTM_PPA_ALLOWED_SPREADSHEETS``, ``BTM_PPA_CERTS_URL``,
        ``BTM_PPA_FRONT_DOOR`` (``cloud-run``: honoured only where Cloud Run's own
        ``K_SERVICE`` is set too)."""
        return cls(
            enabled=os.environ.get("BTM_PPA_AUTH", "on").lower() != "off",
            audiences=_split(os.environ.get("BTM_PPA_AUDIENCES")),
            allowed_callers=tuple(c.lower() for c in _split(os.environ.get("BTM_PPA_ALLOWED_CALLERS"))),
            allowed_spreadsheets=_split(os.environ.get("BTM_PPA_ALLOWED_SPREADSHEETS")),
            certs_url=os.environ.get("BTM_PPA_CERTS_URL", GOOGLE_CERTS_URL),
            front_door=(os.environ.get("BTM_PPA_FRONT_DOOR", "").lower() == "cloud-run"
                        and bool(os.environ.get("K_SERVICE"))),
        )

    def caller_allowed(self, email: str, hosted_domain: object = None) -> bool:
        """An email entry allows that account; a ``@domain`` entry allows accounts of that
        Google Workspace domain only: the token's ``hd`` claim must name it (a personal
        Google account registered with a company address has no ``hd``)."""
        email = email.lower()
        domain = email.rpartition("@")[2]
        if email in self.allowed_callers:
            return True
        return ("@" + domain in self.allowed_callers and isinstance(hosted_domain, str)
                and hosted_domain.lower() == domain)

    def check_spreadsheet(self, spreadsheet_id: str) -> None:
        if self.allowed_spreadsheets and spreadsheet_id not in self.allowed_spreadsheets:
            raise AuthError(f"spreadsheet {spreadsheet_id} is not registered with this backend",
                            403)


def bearer_token(authorization: str | None) -> str | None:
    match = _BEARER.match(authorization or "")
    return match.group(1) if match else None


def verify_caller(authorization: str | None, config: AuthConfig,
                  transport: google.auth.transport.Request | None = None,
                  serverless_authorization: str | None = None) -> str | None:
    """The verified caller's email, or None when auth is off. The token is taken from
    ``X-Serverless-Authorization`` when sent (Cloud Run checks that header instead of
    Authorization), else from ``Authorization``. Raises AuthError: 401 for a missing or
    invalid token, 403 for a valid token from someone not allowlisted."""
    if not config.enabled:
        return None
    if not config.audiences:
        raise AuthError("the function has no BTM_PPA_AUDIENCES configured; refusing all calls", 500)
    token = bearer_token(serverless_authorization) if serverless_authorization else \
        bearer_token(authorization)
    if token is None:
        raise AuthError("missing 'Authorization: Bearer <Google ID token>'", 401)
    if token.count(".") == 2 and token.rsplit(".", 1)[1] == SIGNATURE_REMOVED:
        if not config.front_door:
            raise AuthError("invalid ID token: its signature was removed (as Cloud Run's front "
                            "door does), but this function is not running behind that door, "
                            "so nothing verified it", 401)
        claims = _claims_checked_by_front_door(token, config)
    else:
        claims = _verified_claims(token, config, transport)
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise AuthError(f"invalid ID token: issuer {claims.get('iss')!r} is not Google", 401)
    email = claims.get("email")
    if not isinstance(email, str) or not email or claims.get("email_verified") is not True:
        raise AuthError("ID token carries no verified email (email_verified must be true)", 403)
    if not config.caller_allowed(email, claims.get("hd")):
        if "@" + email.lower().rpartition("@")[2] in config.allowed_callers:
            raise AuthError(f"{email} may not call this function: it is not an account of "
                            "the allowed Google Workspace domain (the token has no matching "
                            "hd claim)", 403)
        raise AuthError(f"{email} may not call this function", 403)
    return email


def _verified_claims(token: str, config: AuthConfig,
                     transport: google.auth.transport.Request | None) -> dict[str, Any]:
    """Signature (Google's certificates), audience, expiry: nothing checked them before."""
    transport = transport or google.auth.transport.requests.Request()
    certs = CERTS.get(config.certs_url, transport)
    try:
        try:
            return dict(jwt.decode(token, certs=certs, audience=list(config.audiences),
                                   clock_skew_in_seconds=CLOCK_SKEW_S))
        except ValueError as exc:
            if "certificate" not in str(exc).lower() and "signature" not in str(exc).lower():
                raise
            certs = CERTS.get(config.certs_url, transport, refresh=True)
            return dict(jwt.decode(token, certs=certs, audience=list(config.audiences),
                                   clock_skew_in_seconds=CLOCK_SKEW_S))
    except (ValueError, gauth_exceptions.GoogleAuthError) as exc:
        raise AuthError(f"invalid ID token: {exc}", 401) from exc
    except AuthError:
        raise
    except Exception as exc:  # a token shaped to trip the decoder (a list as header, ...)
        raise AuthError("invalid ID token: malformed", 401) from exc


def _claims_checked_by_front_door(token: str, config: AuthConfig) -> dict[str, Any]:
    """Cloud Run verified the signature; audience and times are checked again here (the
    front door accepts the service URL and every custom audience of the service; this
    function may accept fewer)."""
    try:
        claims = dict(jwt.decode(token, verify=False))
    except Exception as exc:
        raise AuthError("invalid ID token: malformed", 401) from exc
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if not any(isinstance(a, str) and a in config.audiences for a in audiences):
        raise AuthError(f"invalid ID token: audience {audience!r} is not this function's", 401)
    now = time.time()
    expires, issued = claims.get("exp"), claims.get("iat")
    if not isinstance(expires, int | float) or not isinstance(issued, int | float):
        raise AuthError("invalid ID token: no exp or iat", 401)
    if expires < now - CLOCK_SKEW_S:
        raise AuthError("invalid ID token: expired", 401)
    if issued > now + CLOCK_SKEW_S:
        raise AuthError("invalid ID token: issued in the future", 401)
    return claims
