"""May the caller use this spreadsheet? Checked with the caller's own OAuth access
token (the add-on sends ``ScriptApp.getOAuthToken()``, which carries the
``drive.metadata.readonly`` scope of its manifest), not with the service account's:

1. Google's tokeninfo endpoint says whom the access token belongs to and which OAuth
   client it was issued to: it must be the add-on's client and the same person as the ID
   token (so a token lifted from another app, or another user, is refused);
2. Drive ``files.get`` with that token answers only for files the user can see, and its
   ``capabilities.canEdit`` says whether they may change it (a refresh writes results).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import requests

from btm_ppa.errors import BtmError

DRIVE_FILES_URL = "https://www.googleapis.com/drive/v3/files"
TOKENINFO_URL = "https://oauth2.googleapis.com/tokeninfo"
TIMEOUT_S = 10.0


class AccessDenied(BtmError):
    """The caller may not use this spreadsheet; ``status`` is the HTTP status to answer."""

    kind = "auth"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class DriveAccess:
    def __init__(self, client_ids: Iterable[str], session: requests.Session | None = None,
                 drive_url: str = DRIVE_FILES_URL, tokeninfo_url: str = TOKENINFO_URL) -> None:
        self.client_ids = frozenset(client_ids)
        self.session = session or requests.Session()
        self.drive_url = drive_url
        self.tokeninfo_url = tokeninfo_url

    def check(self, spreadsheet_id: str, access_token: str | None, email: str) -> None:
        """Raise AccessDenied (401/403) unless ``email`` holds ``access_token`` from the
        add-on's client and may edit the spreadsheet."""
        if not access_token:
            raise AccessDenied("send the user's OAuth access token (X-User-Access-Token) so "
                            "the backend can check access to the spreadsheet", 401)
        info = self._get(self.tokeninfo_url, params={"access_token": access_token})
        if info.status_code != 200:
            raise AccessDenied("the user's access token is invalid or expired", 401)
        claims = info.json()
        if claims.get("azp", claims.get("aud")) not in self.client_ids:
            raise AccessDenied("the user's access token was issued to another application", 401)
        if str(claims.get("email", "")).lower() != email.lower():
            raise AccessDenied("the user's access token belongs to someone else", 403)
        answer = self._get(f"{self.drive_url}/{spreadsheet_id}",
                           params={"fields": "id,capabilities(canEdit)",
                                   "supportsAllDrives": "true"},
                           headers={"Authorization": f"Bearer {access_token}"})
        if answer.status_code == 403 and (project := _drive_disabled_in(answer)) is not None:
            raise AccessDenied(
                f"the Google Drive API is not enabled in the add-on's Cloud project "
                f"({project}), so the backend cannot check access to spreadsheets: an admin "
                "enables drive.googleapis.com there (deploy.sh does it with ADDON_PROJECT "
                "set), then try again", 503)
        if answer.status_code in (403, 404):
            raise AccessDenied(f"{email} cannot open spreadsheet {spreadsheet_id}", 403)
        if answer.status_code == 401:
            raise AccessDenied("the user's access token is invalid or expired", 401)
        if answer.status_code != 200:
            raise AccessDenied(f"Google Drive could not check access (HTTP {answer.status_code}); "
                            "try again", 503)
        if not answer.json().get("capabilities", {}).get("canEdit", False):
            raise AccessDenied(f"{email} may view but not edit spreadsheet {spreadsheet_id}", 403)

    def _get(self, url: str, **kwargs: object) -> requests.Response:
        try:
            return self.session.get(url, timeout=TIMEOUT_S, **kwargs)  # type: ignore[arg-type]
        except requests.RequestException as exc:
            raise AccessDenied("Google did not answer the access check in time; try again",
                            503) from exc


def _drive_disabled_in(answer: requests.Response) -> str | None:
    """The project named by Google's "API not enabled" answer (reason accessNotConfigured,
    or an ErrorInfo SERVICE_DISABLED), or None for any other 403."""
    try:
        error = answer.json().get("error", {})
    except ValueError:
        return None
    if not isinstance(error, dict):
        return None
    reasons = {e.get("reason") for e in error.get("errors", []) if isinstance(e, dict)}
    for detail in error.get("details", []):
        if isinstance(detail, dict) and detail.get("reason") == "SERVICE_DISABLED":
            return str(detail.get("metadata", {}).get("consumer", "its project"))
    if "accessNotConfigured" in reasons:
        found = re.search(r"project (\d+)", str(error.get("message", "")))
        return f"projects/{found.group(1)}" if found else "its project"
    return None
