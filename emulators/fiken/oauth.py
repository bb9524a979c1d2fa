"""Fiken's OAuth2 authorization-code flow (docs/reference/fiken.md §1; spec intro lines 50–160), emulated.

- ``GET /oauth/authorize?response_type=code&client_id&redirect_uri&state``: no real user, so the
  configured emulated user approves at once (``decision="approve"``) or rejects
  (``decision="deny"`` ⇒ redirect with ``error=access_denied``). An unknown client or a
  redirect_uri not registered for it gets a 400 page: never redirect to an unverified URI.
- ``POST /oauth/token`` (form body, **HTTP Basic client_id:client_secret required**; credentials
  as form fields only ⇒ 401 ``invalid_client``): ``authorization_code`` (code single-use and
  short-lived, ``redirect_uri`` equal character for character to the authorize one, ``state``
  required and equal) and ``refresh_token`` (rotating: each refresh returns a new refresh token
  and spends the old one, unless ``rotate_refresh_tokens`` is off).
- ``POST /oauth/revoke`` with ``Authorization: Bearer <access token>`` ⇒ 200; the whole grant
  (its access tokens and refresh token) stops working.

A *grant* is one consent: client, user, companies. Tokens point at their grant, so revoking the
grant (revoke endpoint, ``revoke_consent``) kills every token minted from it.
"""

from __future__ import annotations

import base64
import html
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode

from emulators.common import Request, Response

DEFAULT_ACCESS_TOKEN_LIFETIME = 86157  # the spec's example expires_in


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: list[str]


@dataclass
class Grant:
    grant_id: int
    client_id: str
    user: dict[str, str]
    companies: set[str]
    revoked: bool = False
    refresh_token: str = ""


@dataclass
class AccessToken:
    grant_id: int
    expires_at: float | None  # None: never (personal API token)


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    state: str
    user: dict[str, str]
    companies: set[str]
    expires_at: float
    used: bool = False


@dataclass
class AuthResult:
    grant: Grant | None
    problem: str | None = None  # why the bearer token was refused (for the 401 message)


@dataclass
class OAuthServer:
    """State of the OAuth side; every public method takes the lock."""

    random: random.Random
    all_companies: Callable[[], list[str]]
    access_token_lifetime: float = DEFAULT_ACCESS_TOKEN_LIFETIME
    code_lifetime: float = 300.0
    rotate_refresh_tokens: bool = True
    decision: str = "approve"  # or "deny"
    user: dict[str, str] = field(
        default_factory=lambda: {"name": "Emulated User", "email": "user@example.no"}
    )
    consent_companies: list[str] | None = None  # None: every company the emulator has
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.clients: dict[str, OAuthClient] = {}
        self.grants: dict[int, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, int] = {}  # live refresh token -> grant id
        self.codes: dict[str, AuthorizationCode] = {}
        self.token_calls: Counter[str] = Counter()
        # Every access and refresh token ever handed out, spent ones included (log scans look for them).
        self.issued: list[str] = []

    # -- admin ---------------------------------------------------------------------------------

    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: Iterable[str]
    ) -> OAuthClient:
        with self.lock:
            client = OAuthClient(client_id, client_secret, list(redirect_uris))
            self.clients[client_id] = client
            return client

    def issue_tokens(
        self,
        companies: Iterable[str] | None = None,
        *,
        client_id: str | None = None,
        user: dict[str, str] | None = None,
        lifetime: float | None | str = "default",
    ) -> dict:
        """Mint a grant and its token pair directly (no browser). ``lifetime=None``: never expires."""
        with self.lock:
            grant = self._new_grant(
                client_id or "emulator-client",
                user or dict(self.user),
                set(companies) if companies is not None else set(self.all_companies()),
            )
            return self._token_answer(
                grant, self.access_token_lifetime if lifetime == "default" else lifetime
            )

    def revoke_consent(
        self, *, client_id: str | None = None, company: str | None = None, whole_grant: bool = False
    ) -> int:
        """The user revokes the app in Fiken: whole grants, or one company out of them. Returns count.

        ``whole_grant``: revoke every grant that includes ``company`` (the user of that company
        removes the app), rather than taking the company out of the grants.
        """
        with self.lock:
            touched = 0
            for grant in self.grants.values():
                if grant.revoked or (client_id is not None and grant.client_id != client_id):
                    continue
                if company is None or (whole_grant and company in grant.companies):
                    grant.revoked = True
                    touched += 1
                elif company in grant.companies:
                    grant.companies.discard(company)
                    touched += 1
            return touched

    def expire_access_tokens(self) -> None:
        with self.lock:
            now = self.clock()
            for token in self.access_tokens.values():
                if token.expires_at is not None:
                    token.expires_at = min(token.expires_at, now - 1)

    def reset(self) -> None:
        with self.lock:
            self.grants.clear()
            self.access_tokens.clear()
            self.refresh_tokens.clear()
            self.codes.clear()
            self.token_calls.clear()
            self.issued.clear()

    # -- bearer check for the API --------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> AuthResult:
        if not authorization or not authorization.lower().startswith("bearer "):
            return AuthResult(None, "Missing bearer token")
        token = authorization[7:].strip()
        with self.lock:
            access = self.access_tokens.get(token)
            if access is None:
                return AuthResult(None, "Invalid access token")
            grant = self.grants[access.grant_id]
            if grant.revoked:
                return AuthResult(None, "Access token has been revoked")
            if access.expires_at is not None and self.clock() >= access.expires_at:
                return AuthResult(None, "Access token has expired")
            return AuthResult(grant)

    # -- endpoints -----------------------------------------------------------------------------------

    def authorize(self, request: Request) -> Response:
        client_id = request.query_value("client_id") or ""
        redirect_uri = request.query_value("redirect_uri") or ""
        with self.lock:
            client = self.clients.get(client_id)
            if client is None:
                return _page(400, "Unknown client", "The client_id is missing or not registered.")
            if redirect_uri not in client.redirect_uris:
                return _page(
                    400,
                    "Invalid redirect_uri",
                    "The redirect_uri is missing or not registered for this client.",
                )
            state = request.query_value("state")
            if request.query_value("response_type") != "code":
                return _redirect(
                    redirect_uri,
                    error="unsupported_response_type",
                    error_description="response_type must be code",
                    state=state,
                )
            if not state:
                return _redirect(redirect_uri, error="invalid_request", error_description="state is required")
            if self.decision != "approve":
                return _redirect(
                    redirect_uri,
                    error="access_denied",
                    error_description="The user denied access to your application",
                    state=state,
                )
            code = self._secret(24)
            companies = self.consent_companies if self.consent_companies is not None else self.all_companies()
            self.codes[code] = AuthorizationCode(
                client_id,
                redirect_uri,
                state,
                dict(self.user),
                set(companies),
                self.clock() + self.code_lifetime,
            )
            return _redirect(redirect_uri, code=code, state=state)

    def token(self, request: Request) -> Response:
        form = {
            k: v[0]
            for k, v in parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True).items()
        }
        grant_type = form.get("grant_type", "")
        with self.lock:
            self.token_calls[grant_type or "(missing)"] += 1
            client = self._basic_client(request.header("Authorization"))
            if client is None:
                return _oauth_error(
                    401,
                    "invalid_client",
                    "Client authentication failed: use HTTP Basic with client_id:client_secret",
                    {"WWW-Authenticate": 'Basic realm="fiken"'},
                )
            if "application/x-www-form-urlencoded" not in request.content_type:
                return _oauth_error(
                    400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
                )
            if grant_type == "authorization_code":
                return self._exchange_code(client, form)
            if grant_type == "refresh_token":
                return self._refresh(client, form)
            return _oauth_error(
                400, "unsupported_grant_type", f"Unsupported grant_type: {grant_type or '(none)'}"
            )

    def revoke(self, request: Request) -> Response:
        result = self.authenticate(request.header("Authorization"))
        if result.grant is None:
            return Response.json(401, {"message": result.problem})
        with self.lock:
            result.grant.revoked = True
        return Response.empty(200)

    # -- internals -----------------------------------------------------------------------------------

    def _exchange_code(self, client: OAuthClient, form: dict[str, str]) -> Response:
        missing = [name for name in ("code", "redirect_uri", "state") if not form.get(name)]
        if missing:
            return _oauth_error(400, "invalid_request", f"Missing parameter(s): {', '.join(missing)}")
        code = self.codes.get(form["code"])
        if code is None or code.used or code.client_id != client.client_id or self.clock() >= code.expires_at:
            return _oauth_error(400, "invalid_grant", "The authorization code is invalid or expired.")
        if form["redirect_uri"] != code.redirect_uri:
            return _oauth_error(400, "invalid_grant", "The redirect_uri is missing or invalid")
        if form["state"] != code.state:
            return _oauth_error(400, "invalid_grant", "The state does not match the authorization request")
        code.used = True
        grant = self._new_grant(client.client_id, code.user, code.companies)
        return Response.json(200, self._token_answer(grant, self.access_token_lifetime), _NO_STORE)

    def _refresh(self, client: OAuthClient, form: dict[str, str]) -> Response:
        presented = form.get("refresh_token", "")
        if not presented:
            return _oauth_error(400, "invalid_request", "Missing parameter(s): refresh_token")
        grant_id = self.refresh_tokens.get(presented)
        grant = self.grants.get(grant_id) if grant_id is not None else None
        if grant is None or grant.revoked or grant.client_id != client.client_id:
            return _oauth_error(400, "invalid_grant", "The refresh token is invalid or expired.")
        if self.rotate_refresh_tokens:
            del self.refresh_tokens[presented]
            grant.refresh_token = ""
        return Response.json(200, self._token_answer(grant, self.access_token_lifetime), _NO_STORE)

    def _new_grant(self, client_id: str, user: dict[str, str], companies: set[str]) -> Grant:
        grant = Grant(len(self.grants) + 1, client_id, dict(user), set(companies))
        self.grants[grant.grant_id] = grant
        return grant

    def _token_answer(self, grant: Grant, lifetime: float | None) -> dict:
        access = self._secret(32)
        self.access_tokens[access] = AccessToken(
            grant.grant_id, None if lifetime is None else self.clock() + lifetime
        )
        self.issued.append(access)
        if not grant.refresh_token:
            grant.refresh_token = self._secret(32)
            self.refresh_tokens[grant.refresh_token] = grant.grant_id
            self.issued.append(grant.refresh_token)
        return {
            "access_token": access,
            "refresh_token": grant.refresh_token,
            "token_type": "bearer",
            "expires_in": int(lifetime) if lifetime is not None else None,
        }

    def _basic_client(self, authorization: str | None) -> OAuthClient | None:
        if not authorization or not authorization.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        client_id, _, secret = decoded.partition(":")
        client = self.clients.get(client_id)
        return client if client is not None and client.client_secret == secret else None

    def _secret(self, size: int) -> str:
        return base64.urlsafe_b64encode(self.random.randbytes(size)).decode().rstrip("=")


_NO_STORE = {"Cache-Control": "no-store"}


def _oauth_error(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> Response:
    return Response.json(
        status, {"error": error, "error_description": description}, {**_NO_STORE, **(headers or {})}
    )


def _redirect(redirect_uri: str, **params: str | None) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return Response.empty(302, {"Location": f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}"})


def _page(status: int, title: str, text: str) -> Response:
    title, text = html.escape(title), html.escape(text)
    body = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{text}</p>"
    return Response.text(status, body, "text/html; charset=utf-8")
