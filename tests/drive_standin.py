"""A loopback stand-in for the two Google endpoints of the per-file access check:
``GET /tokeninfo?access_token=`` (oauth2.googleapis.com) and
``GET /drive/v3/files/{id}`` (Drive API v3) with the user's bearer token.

As strict as Google where the check depends on it: an unknown or expired token is 400 at
tokeninfo and 401 at Drive; Drive answers only with a scope that can read file metadata
(``drive``, ``drive.readonly``, ``drive.metadata[.readonly]``; 403 insufficient
permissions otherwise, e.g. for ``spreadsheets.currentonly`` or ``drive.file`` tokens
of files not opened with the app); a file the user cannot see is 404, never 403, so its
existence does not leak; ``capabilities.canEdit`` follows the user's role. A token
issued to an OAuth client whose Cloud project has not enabled the Drive API
(``api_disabled``: client id -> project number) gets Google's 403 accessNotConfigured /
SERVICE_DISABLED answer, whatever the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.loopback import LoopbackServer

METADATA_SCOPES = frozenset(f"https://www.googleapis.com/auth/{s}" for s in (
    "drive", "drive.readonly", "drive.metadata", "drive.metadata.readonly"))


@dataclass(frozen=True)
class AccessToken:
    email: str
    client_id: str
    scopes: tuple[str, ...]


class DriveStandIn(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, AccessToken] = {}
        self.roles: dict[tuple[str, str], str] = {}  # (file id, email) -> owner/writer/reader
        self.api_disabled: dict[str, str] = {}  # OAuth client id -> its project's number
        self.route("/tokeninfo", self._tokeninfo)
        self.route("/drive/v3/files/", self._file)

    def issue(self, token: str, email: str, client_id: str, scopes: tuple[str, ...]) -> str:
        self.tokens[token] = AccessToken(email, client_id, scopes)
        return token

    def share(self, file_id: str, email: str, role: str = "writer") -> None:
        self.roles[(file_id, email)] = role

    def _tokeninfo(self, request):
        token = self.tokens.get(request.args.get("access_token", ""))
        if token is None:
            return 400, {"error": "invalid_token", "error_description": "Invalid Value"}
        return 200, {"azp": token.client_id, "aud": token.client_id, "email": token.email,
                     "email_verified": "true", "scope": " ".join(token.scopes),
                     "expires_in": "3599"}

    def _file(self, request):
        auth = request.headers.get("Authorization", "")
        token = self.tokens.get(auth.removeprefix("Bearer "))
        if token is None:
            return 401, {"error": {"code": 401, "message": "Invalid Credentials"}}
        if token.client_id in self.api_disabled:
            number = self.api_disabled[token.client_id]
            return 403, {"error": {
                "code": 403, "status": "PERMISSION_DENIED",
                "message": f"Google Drive API has not been used in project {number} before or "
                           "it is disabled. Enable it by visiting https://console.developers."
                           "google.com/apis/api/drive.googleapis.com/overview?project="
                           f"{number} then retry.",
                "errors": [{"message": "Google Drive API has not been used ...",
                            "domain": "usageLimits", "reason": "accessNotConfigured"}],
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                             "reason": "SERVICE_DISABLED", "domain": "googleapis.com",
                             "metadata": {"service": "drive.googleapis.com",
                                          "consumer": f"projects/{number}"}}]}}
        if not METADATA_SCOPES & set(token.scopes):
            return 403, {"error": {"code": 403, "message": "Insufficient Permission",
                                   "errors": [{"reason": "insufficientPermissions"}]}}
        file_id = request.path.rsplit("/", 1)[1]
        role = self.roles.get((file_id, token.email))
        if role is None:
            return 404, {"error": {"code": 404, "message": f"File not found: {file_id}."}}
        return 200, {"id": file_id, "capabilities": {"canEdit": role in ("owner", "writer")}}
