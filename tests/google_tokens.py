"""Google-style ID tokens signed locally, and a loopback certs endpoint to verify them."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt

from tests.loopback import LoopbackServer

KID = "test-key-1"
AUTO = "(the email's domain)"


class TokenIssuer(LoopbackServer):
    """Serves ``/certs`` like https://www.googleapis.com/oauth2/v1/certs and signs tokens."""

    def __init__(self) -> None:
        super().__init__()
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()
        self._public_pem = public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        # As Google answers: the certificates, cacheable for hours.
        self.route("/certs", lambda request: (
            200, {KID: public_pem},
            {"Cache-Control": "public, max-age=21600, must-revalidate, no-transform"}))

    def __enter__(self) -> TokenIssuer:
        # A new key may come up on a port an earlier issuer used: forget cached keys.
        from btm_ppa.entrypoints.auth import CERTS

        CERTS.clear()
        super().__enter__()
        return self

    @property
    def public_certs(self) -> dict[str, str]:
        return {KID: self._public_pem}

    @property
    def certs_url(self) -> str:
        return f"{self.url}/certs"

    def token(self, email: str = "analyst@example.com", audience: str = "test-audience",
              issuer: str = "https://accounts.google.com", expires_in_s: int = 3600,
              email_verified: object = True, issued_in_s: int = -10,
              hd: str | None = AUTO) -> str:
        """``hd`` (the Google Workspace domain) is, by default, the email's domain, as for
        a Workspace account; None leaves it out, as for a personal Google account or a
        service account (whose tokens never carry one)."""
        now = int(time.time())
        payload = {"iss": issuer, "aud": audience, "sub": "1234567890", "email": email,
                   "email_verified": email_verified, "iat": now + issued_in_s,
                   "exp": now + expires_in_s}
        if hd == AUTO:
            domain = email.rpartition("@")[2]
            hd = None if domain == "gmail.com" or domain.endswith("gserviceaccount.com") else domain
        if hd is not None:
            payload["hd"] = hd
        signer = crypt.RSASigner.from_string(self._private_pem, key_id=KID)
        return jwt.encode(signer, payload).decode()
