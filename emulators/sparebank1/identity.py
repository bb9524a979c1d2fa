"""The identity server subset a server application uses (docs/reference/sparebank1.md §2.1, §2.3).

``POST {identity}/connect/token`` (form): ``grant_type=client_credentials``, ``client_id`` (optional: the
assertion names the client), ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``,
``client_assertion`` = RS256 JWT signed with the private key of the certificate registered for the client,
``scope`` containing ``AppFramework``. The assertion must have ``iss == sub == client_id``, ``aud`` == the
token endpoint URL, a ``jti`` never seen before for that client, ``exp`` in the future and no further than
``max_assertion_lifetime`` seconds away. An ``x5c`` header (the Ruby client sends one) must carry the
registered certificate when the app registered a certificate.

Errors use the OAuth shape IdentityServer answers with: 400 ``{"error": "invalid_client"|"invalid_grant"|
"invalid_scope"|"unsupported_grant_type"|"invalid_request", "error_description": ...}`` (the description is an
emulator nicety; the real server is terser).

Access tokens are opaque to the connector: HS256 JWTs signed with an emulator secret, carrying ``client_id``,
``scope``, ``AppFramework`` (the API base) and ``exp``; the emulator keeps its own table of issued tokens so
it can expire them on demand. No refresh token is issued (client credentials).
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REQUIRED_SCOPE = "AppFramework"


@dataclass
class App:
    client_id: str
    public_key: RSAPublicKey
    certificate_der: bytes | None
    name: str
    scopes: frozenset[str]
    companies: set[str] = field(default_factory=set)  # CompanyKeys the app is activated for


@dataclass
class IssuedToken:
    client_id: str
    scopes: frozenset[str]
    expires_at: float


class TokenError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def load_public_key(material: Any) -> tuple[RSAPublicKey, bytes | None]:
    """A registered key from a PEM public key, a PEM/DER certificate, or a ``cryptography`` object."""
    if isinstance(material, x509.Certificate):
        return _rsa(material.public_key()), material.public_bytes(serialization.Encoding.DER)
    if isinstance(material, RSAPublicKey):
        return material, None
    data = material.encode() if isinstance(material, str) else bytes(material)
    if b"BEGIN CERTIFICATE" in data:
        cert = x509.load_pem_x509_certificate(data)
        return _rsa(cert.public_key()), cert.public_bytes(serialization.Encoding.DER)
    if b"BEGIN" in data:
        return _rsa(serialization.load_pem_public_key(data)), None
    cert = x509.load_der_x509_certificate(data)
    return _rsa(cert.public_key()), cert.public_bytes(serialization.Encoding.DER)


def _rsa(key: Any) -> RSAPublicKey:
    if not isinstance(key, RSAPublicKey):
        raise ValueError("the platform signs client assertions with RS256: an RSA key is required")
    return key


class IdentityServer:
    def __init__(
        self,
        *,
        token_lifetime: float = 3600.0,
        max_assertion_lifetime: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token_lifetime = token_lifetime
        self.max_assertion_lifetime = max_assertion_lifetime
        self.clock = clock
        self.apps: dict[str, App] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.seen_jtis: dict[tuple[str, str], float] = {}
        self._secret = secrets.token_bytes(32)
        self.token_requests = 0

    def reset(self) -> None:
        """Forget tokens, seen assertions and activations; registered apps stay."""
        self.tokens.clear()
        self.seen_jtis.clear()
        self.token_requests = 0
        for app in self.apps.values():
            app.companies.clear()

    def register(self, client_id: str, key_material: Any, name: str, scopes: frozenset[str]) -> App:
        public_key, cert_der = load_public_key(key_material)
        app = App(client_id, public_key, cert_der, name, scopes)
        self.apps[client_id] = app
        return app

    # -- token endpoint ----------------------------------------------------------------------------

    def token(self, form_body: bytes, token_endpoint: str, api_base: str) -> dict[str, Any]:
        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(form_body.decode("utf-8", "replace")).items() if v}
        if form.get("grant_type") != "client_credentials":
            raise TokenError(
                "unsupported_grant_type", "only client_credentials is supported for server clients"
            )
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            raise TokenError("invalid_client", "a jwt-bearer client_assertion is required")
        app = self._verify_assertion(form["client_assertion"], form.get("client_id"), token_endpoint)
        requested = frozenset((form.get("scope") or "").split())
        if REQUIRED_SCOPE not in requested:
            raise TokenError("invalid_scope", f"the {REQUIRED_SCOPE} scope is required for API access")
        if not requested <= app.scopes:
            raise TokenError(
                "invalid_scope", f"scopes not allowed for this client: {sorted(requested - app.scopes)}"
            )
        return self.issue(app.client_id, requested, api_base)

    def issue(self, client_id: str, scopes: frozenset[str], api_base: str) -> dict[str, Any]:
        now = self.clock()
        expires_at = now + self.token_lifetime
        claims = {
            "client_id": client_id,
            "scope": sorted(scopes),
            "AppFramework": api_base,
            "aud": [REQUIRED_SCOPE],
            "iat": int(now),
            "exp": int(expires_at),
            "jti": secrets.token_hex(8),
        }
        token = jwt.encode(claims, self._secret, algorithm="HS256")
        self.tokens[token] = IssuedToken(client_id, scopes, expires_at)
        return {
            "access_token": token,
            "expires_in": int(self.token_lifetime),
            "token_type": "Bearer",
            "scope": " ".join(sorted(scopes)),
        }

    def _verify_assertion(self, assertion: str, client_id: str | None, token_endpoint: str) -> App:
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as exc:
            raise TokenError(
                "invalid_client", f"client_assertion is not a JWT: {type(exc).__name__}"
            ) from exc
        claimed = client_id or unverified.get("iss")
        app = self.apps.get(claimed or "")
        if app is None:
            raise TokenError("invalid_client", "unknown client")
        if header.get("alg") != "RS256":
            raise TokenError("invalid_client", "client_assertion must be signed with RS256")
        if "x5c" in header and app.certificate_der is not None:
            sent = header["x5c"][0] if isinstance(header["x5c"], list) and header["x5c"] else None
            if not sent or base64.b64decode(sent) != app.certificate_der:
                raise TokenError("invalid_client", "x5c does not carry the registered certificate")
        try:
            claims = jwt.decode(
                assertion,
                app.public_key,
                algorithms=["RS256"],
                audience=token_endpoint,
                issuer=app.client_id,
                options={"require": ["exp", "iss", "sub", "aud", "jti"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("invalid_client", "client_assertion has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenError("invalid_client", "client_assertion aud must be the token endpoint") from exc
        except jwt.PyJWTError as exc:
            raise TokenError("invalid_client", f"client_assertion rejected: {type(exc).__name__}") from exc
        if claims.get("sub") != app.client_id:
            raise TokenError("invalid_client", "client_assertion sub must be the client id")
        now = self.clock()
        if claims["exp"] - now > self.max_assertion_lifetime:
            raise TokenError("invalid_client", "client_assertion lifetime is too long")
        self._forget_old_jtis(now)
        key = (app.client_id, str(claims["jti"]))
        if key in self.seen_jtis:
            raise TokenError("invalid_client", "client_assertion jti has already been used")
        self.seen_jtis[key] = float(claims["exp"])
        return app

    def _forget_old_jtis(self, now: float) -> None:
        for key in [k for k, exp in self.seen_jtis.items() if exp < now - 60]:
            del self.seen_jtis[key]

    # -- API side ----------------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> App | None:
        """The app behind a live bearer token with the AppFramework scope, else ``None``."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        issued = self.tokens.get(authorization[7:].strip())
        if issued is None or issued.expires_at <= self.clock() or REQUIRED_SCOPE not in issued.scopes:
            return None
        return self.apps.get(issued.client_id)

    def expire_tokens(self) -> int:
        now = self.clock()
        for issued in self.tokens.values():
            issued.expires_at = min(issued.expires_at, now - 1)
        return len(self.tokens)
