"""Server-application auth (docs/reference/sparebank1.md §2.1): ``client_credentials`` with an RS256 client
assertion.

One registered app serves every tenant; a company's consent is its marketplace activation, not a
per-tenant secret. The app's client id and certificate key live in ONE Secrets Manager secret of the
stack (``SPAREBANK1_APP_SECRET_ID``), JSON ``{"client_id", "private_key_pem", "certificate_pem"?}``.

Tokens are cached per (identity host, API origin) pair until ``expires_in`` minus a margin: a token is
only ever sent to the one API origin it was minted for, so a token minted for one bank never reaches
another bank's host (docs/security.md). There is no refresh token: a new assertion mints a new token.
A 401 from the API mints once more (``mint_again``); the client turns a second 401
into a tenant-level error. No token, assertion or key ever reaches a log or an error.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from momentsync.connectors.sparebank1.hosts import origin
from momentsync.errors import TenantLevelError, TenantProblem, TransientError
from momentsync.observability import logger
from momentsync.ports import TokenSource
from momentsync.tls import client_tls_context

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCOPE = "AppFramework"
# The platform's example assertion lives 60 s; the emulator accepts at most 300 s.
ASSERTION_LIFETIME_SECONDS = 60
DEFAULT_MARGIN_SECONDS = 120
CERTIFICATE_REMEDY = (
    "Put the SpareBank 1 app's client id and certificate key into the stack's SpareBank1AppSecret "
    '({"client_id": "...", "private_key_pem": "-----BEGIN PRIVATE KEY-----..."}), then resume the tenant'
)


@dataclass(frozen=True)
class AppCredentials:
    client_id: str
    private_key: RSAPrivateKey = field(repr=False)
    # When present, sent as the assertion's x5c header (the Ruby client does; optional on the platform).
    certificate_der: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_secret(cls, text: str) -> AppCredentials:
        # Imported here: X.509 and JWT are needed by SpareBank 1 tenants only (cold start).
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

        try:
            data = json.loads(text)
            client_id = str(data["client_id"]).strip()
            pem = str(data["private_key_pem"]).encode()
            key = serialization.load_pem_private_key(pem, password=_password(data))
            certificate = data.get("certificate_pem")
            cert_der = (
                x509.load_pem_x509_certificate(certificate.encode()).public_bytes(serialization.Encoding.DER)
                if certificate
                else None
            )
        except (ValueError, KeyError, TypeError) as exc:
            # Never echo the secret: only say which part is wrong.
            raise _app_error(f"the SpareBank 1 app secret is unusable ({type(exc).__name__})") from None
        if not client_id or client_id == "REPLACE_ME" or not isinstance(key, RSAPrivateKey):
            raise _app_error(
                "the SpareBank 1 app secret has no client id or no RSA key (still the placeholder?)"
            )
        return cls(client_id, key, cert_der)


def _password(data: dict[str, Any]) -> bytes | None:
    value = data.get("private_key_password")
    return str(value).encode() if value else None


def _app_error(reason: str) -> TenantLevelError:
    return TenantLevelError(TenantProblem.API_ACCESS_MISSING, reason, remedy=CERTIFICATE_REMEDY)


def client_assertion(
    credentials: AppCredentials,
    token_endpoint: str,
    *,
    now: float,
    lifetime: int = ASSERTION_LIFETIME_SECONDS,
    jti: str | None = None,
) -> str:
    """The JWT the token endpoint wants: iss = sub = client id, aud = token endpoint, unique jti."""
    issued = int(now)
    claims = {
        "jti": jti or str(uuid.uuid4()),
        "sub": credentials.client_id,
        "iss": credentials.client_id,
        "aud": token_endpoint,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
    }
    headers = (
        {"x5c": [base64.b64encode(credentials.certificate_der).decode()]}
        if credentials.certificate_der
        else None
    )
    import jwt

    return jwt.encode(claims, credentials.private_key, algorithm="RS256", headers=headers)


@dataclass
class _Token:
    value: str = field(repr=False)
    refresh_at: float


class AppTokens:
    """The app's access tokens, one per (identity host, API origin), shared by every tenant in the process.

    The key is the exact pair of hosts a token may travel to: minted at ``identity_url``, sent only to
    ``api_url``'s origin. Callers pass hosts already checked against the allowlist (``hosts``).
    """

    def __init__(
        self,
        credentials: Callable[[], AppCredentials],
        *,
        fresh_credentials: Callable[[], AppCredentials] | None = None,
        http: httpx.Client | None = None,
        margin_seconds: float = DEFAULT_MARGIN_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``fresh_credentials``: the app secret read past its cache, tried once when the identity server
        refuses the cached one as ``invalid_client`` (an operator rotated the app's key meanwhile)."""
        self._credentials = credentials
        self._fresh_credentials = fresh_credentials
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(15.0, connect=5.0), verify=client_tls_context()
        )
        self._margin = margin_seconds
        self._clock = clock
        self._tokens: dict[TokenAudience, _Token] = {}
        self._token_endpoints: dict[str, str] = {}
        self._lock = threading.Lock()
        self.minted = 0

    def for_hosts(self, identity_url: str, api_url: str) -> TokenSource:
        return _BoundTokens(self, TokenAudience(identity_url.rstrip("/"), origin(api_url)))

    def access_token(self, audience: TokenAudience) -> str:
        with self._lock:
            token = self._tokens.get(audience)
            if token is not None and token.refresh_at > self._clock():
                return token.value
            return self._mint(audience)

    def mint_again(self, audience: TokenAudience, rejected: str) -> str:
        """After a 401: a new token, unless another request already replaced the rejected one."""
        with self._lock:
            token = self._tokens.get(audience)
            if token is not None and token.value != rejected and token.refresh_at > self._clock():
                return token.value
            return self._mint(audience)

    def forget(self) -> None:
        with self._lock:
            self._tokens.clear()

    def token_endpoint(self, identity_url: str) -> str:
        """From the identity server's OpenID configuration (the assertion's aud must match it exactly).

        Only an endpoint on the identity host's own origin is taken: the signed assertion is a credential
        for a minute, and a discovery answer must not be able to send it elsewhere.
        """
        known = self._token_endpoints.get(identity_url)
        if known:
            return known
        endpoint = f"{identity_url}/connect/token"
        try:
            response = self._http.get(f"{identity_url}/.well-known/openid-configuration")
            if response.status_code == 200:
                named = str(response.json().get("token_endpoint") or endpoint)
                if origin(named) == origin(identity_url):
                    endpoint = named
                else:
                    logger.warning(
                        "sparebank1 token endpoint on another origin ignored",
                        extra={"identity": origin(identity_url), "named": origin(named)},
                    )
        except (httpx.HTTPError, ValueError, AttributeError):
            pass  # IdentityServer's conventional path is the documented fallback
        self._token_endpoints[identity_url] = endpoint
        return endpoint

    def _mint(self, audience: TokenAudience) -> str:
        credentials = self._credentials()
        endpoint = self.token_endpoint(audience.identity_url)
        response, body = self._token_request(credentials, endpoint)
        if body.get("error") == "invalid_client" and self._fresh_credentials is not None:
            stored = self._fresh_credentials()
            if _key_of(stored) != _key_of(credentials):
                response, body = self._token_request(stored, endpoint)
        if response.status_code != 200 or not body.get("access_token"):
            error = str(body.get("error") or f"HTTP {response.status_code}")
            description = str(body.get("error_description") or "")[:200]
            said = f"{error}: {description}" if description else error
            reason = f"SpareBank 1 refused momentsync's app token ({said})"
            raise TenantLevelError(TenantProblem.API_ACCESS_MISSING, reason, remedy=CERTIFICATE_REMEDY)
        lifetime = float(body.get("expires_in") or 300)
        token = _Token(str(body["access_token"]), self._clock() + max(lifetime - self._margin, lifetime / 2))
        self._tokens[audience] = token
        logger.info(
            "sparebank1 app token minted", extra={"expires_in": int(lifetime), "api": audience.api_origin}
        )
        return token.value

    def _token_request(
        self, credentials: AppCredentials, endpoint: str
    ) -> tuple[httpx.Response, dict[str, Any]]:
        form = {
            "grant_type": "client_credentials",
            "scope": SCOPE,
            "client_id": credentials.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(credentials, endpoint, now=self._clock()),
        }
        try:
            response = self._http.post(endpoint, data=form, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise TransientError(f"SpareBank 1 token endpoint unreachable ({type(exc).__name__})") from None
        self.minted += 1
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise TransientError(f"SpareBank 1 token endpoint answered {response.status_code}")
        return response, _json_object(response)


def _key_of(credentials: AppCredentials) -> tuple[str, Any, bytes | None]:
    """What identifies the app's key: a re-read secret holding the same one is no rotation."""
    return (
        credentials.client_id,
        credentials.private_key.public_key().public_numbers(),
        credentials.certificate_der,
    )


@dataclass(frozen=True)
class TokenAudience:
    """Where a token comes from and the one API origin it may be sent to."""

    identity_url: str
    api_origin: str


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@dataclass(frozen=True)
class _BoundTokens:
    tokens: AppTokens
    audience: TokenAudience

    @property
    def api_origin(self) -> str:
        return self.audience.api_origin

    def access_token(self) -> str:
        return self.tokens.access_token(self.audience)

    def mint_again(self, rejected: str) -> str:
        return self.tokens.mint_again(self.audience, rejected)
