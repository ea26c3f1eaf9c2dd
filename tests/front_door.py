"""A stand-in for Cloud Run's front door (the IAM invoker check of a service deployed with
``--no-allow-unauthenticated``), as WSGI middleware around a function's app.

What Google documents it does, and this does too:

- The caller's ID token is taken from ``X-Serverless-Authorization`` when that header is
  sent, else from ``Authorization: Bearer``; when both are sent, only
  ``X-Serverless-Authorization`` is checked and ``Authorization`` passes through untouched
  (for the app's own use).
- Admitted only: a Google-signed ID token (signature checked against Google's keys, here
  the test issuer's), issued by Google, unexpired, whose audience is the service's URL or
  one of its custom audiences, whose principal holds the invoker role on the service
  (``user:EMAIL``, ``serviceAccount:EMAIL``, ``domain:D`` for accounts of Workspace domain
  D, i.e. ``hd == D``, ``allAuthenticatedUsers``, ``allUsers``).
- Refused before the container sees anything: no credentials, or a principal without the
  invoker role: 403 Forbidden ("Your client does not have permission to get URL"); a token
  that is malformed, badly signed, expired, not Google's or for another audience: 401
  Unauthorized (cloud.google.com/run/docs/troubleshooting; a custom audience not set on
  the service is a 401, firebase/firebase-functions#1399).
- Forwarded with the checked token's signature replaced by ``SIGNATURE_REMOVED_BY_GOOGLE``
  (in the header that was checked), so the container can read the claims but never verify
  the token again.

``K_SERVICE`` is what Cloud Run sets in every container; the tests set it with the door.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from google.auth import jwt

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
REMOVED = "SIGNATURE_REMOVED_BY_GOOGLE"


def _bearer(value: str | None) -> str | None:
    parts = (value or "").split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1]
    return None


class FrontDoor:
    def __init__(self, app: Callable, *, url: str | Iterable[str], certs: dict[str, str],
                 invokers: Iterable[str] = (), custom_audiences: Iterable[str] = ()) -> None:
        self.app = app
        self.urls = (url,) if isinstance(url, str) else tuple(url)
        self.certs = certs
        self.invokers = set(invokers)
        self.custom_audiences = set(custom_audiences)
        self.refused: list[tuple[int, str]] = []  # (status, why) of every refusal
        self.admitted: list[str] = []  # principals let in

    def _is_invoker(self, claims: dict[str, Any]) -> bool:
        email = str(claims.get("email", "")).lower()
        members = {"allUsers", "allAuthenticatedUsers", f"user:{email}",
                   f"serviceAccount:{email}"}
        if isinstance(claims.get("hd"), str):
            members.add(f"domain:{claims['hd'].lower()}")
        return bool(members & self.invokers)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        key = "HTTP_X_SERVERLESS_AUTHORIZATION" if environ.get(
            "HTTP_X_SERVERLESS_AUTHORIZATION") else "HTTP_AUTHORIZATION"
        if not environ.get(key):
            return self._refuse(start_response, 403, "no credentials")
        token = _bearer(environ.get(key))
        if token is None:
            return self._refuse(start_response, 401, "not a bearer token")
        try:
            claims = jwt.decode(token, certs=self.certs,
                                audience=[*self.urls, *self.custom_audiences])
        except Exception as exc:  # bad signature, expired, wrong audience, malformed
            return self._refuse(start_response, 401, f"invalid token: {exc}")
        if claims.get("iss") not in GOOGLE_ISSUERS:
            return self._refuse(start_response, 401, "not issued by Google")
        if not self._is_invoker(claims):
            return self._refuse(start_response, 403, f"{claims.get('email')} lacks the invoker role")
        self.admitted.append(str(claims.get("email")))
        environ = dict(environ)
        environ[key] = "Bearer " + token.rsplit(".", 1)[0] + "." + REMOVED
        return self.app(environ, start_response)

    def _refuse(self, start_response: Callable, status: int, why: str) -> list[bytes]:
        self.refused.append((status, why))
        if status == 403:
            line, text = "403 Forbidden", ("Error: Forbidden\nYour client does not have "
                                           "permission to get URL / from this server.\n")
        else:
            line, text = "401 Unauthorized", ("Error: Unauthorized\nYour client does not have "
                                              "permission to the requested URL /.\n")
        start_response(line, [("Content-Type", "text/html; charset=UTF-8")])
        return [text.encode()]
