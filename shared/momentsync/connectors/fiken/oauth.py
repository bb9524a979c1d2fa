"""Fiken's OAuth2 endpoints (docs/reference/fiken.md §1): authorize URL, code exchange, refresh, revoke.

The token endpoint wants HTTP Basic client authentication (client_id:client_secret), a form body,
``state`` on the code exchange too, and the very redirect_uri sent to /authorize. Refresh tokens
rotate ("possibly updated refresh token"): callers must persist whatever comes back.

The app's client id and secret live in one Secrets Manager secret of the stack (JSON
``{"client_id", "client_secret"}``); only the secret's id is configuration.

Errors: ``invalid_grant`` -> ``InvalidGrant`` (consent revoked, code used or expired, refresh token
spent); other OAuth rejections -> ``OAuthRejected``; network trouble, 429 and 5xx -> ``TransientError``.
No message carries a token, code, state or the client secret.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from momentsync.credentials import OAuthTokens
from momentsync.errors import PermanentError, TransientError
from momentsync.ports import FikenAppCredentialsSource
from momentsync.tls import client_tls_context

PLACEHOLDER = "REPLACE_ME"


class FikenAppCredentials(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    client_id: str = Field(min_length=1)
    client_secret: SecretStr


class AppSecretNotConfigured(PermanentError):
    """The stack's Fiken app secret still holds the placeholder (or is not valid JSON)."""


class TokenGrant(BaseModel):
    """A token endpoint answer; ``refresh_token`` may be absent on refresh (then keep the old one)."""

    model_config = ConfigDict(extra="ignore")

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    token_type: str = "bearer"  # noqa: S105 - the token type's name, not a secret
    expires_in: int = Field(gt=0)

    def to_tokens(self, now: datetime, previous_refresh_token: SecretStr | None = None) -> OAuthTokens:
        return OAuthTokens(
            access_token=self.access_token,
            refresh_token=self.refresh_token or previous_refresh_token,
            expires_at=now + timedelta(seconds=self.expires_in),
        )


class OAuthRejected(PermanentError):
    """Fiken refused an OAuth request (bad client, bad request); retrying the same cannot help."""

    def __init__(self, reason: str, *, error: str | None, status_code: int) -> None:
        super().__init__(reason)
        self.error = error
        self.status_code = status_code


class InvalidGrant(OAuthRejected):
    """The code or refresh token is not (or no longer) valid: used, expired, or consent revoked."""


class FikenOAuthClient:
    def __init__(
        self,
        oauth_base_url: str,
        app_credentials: FikenAppCredentialsSource,
        *,
        http: httpx.Client | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._base = oauth_base_url.rstrip("/")
        self._app = app_credentials
        self._http = http or httpx.Client(timeout=timeout_seconds, verify=client_tls_context())

    @property
    def authorize_origin(self) -> str:
        """Where the browser is sent to approve (a page's CSP ``form-action`` must allow it)."""
        parts = urlsplit(self._base)
        return f"{parts.scheme}://{parts.netloc}"

    def ensure_configured(self) -> None:
        """Raises AppSecretNotConfigured now, before a caller spends a one-time link on a dead end."""
        self._app.get()

    def authorize_url(self, *, redirect_uri: str, state: str) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._app.get().client_id,
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        return f"{self._base}/oauth/authorize?{query}"

    def exchange_code(self, *, code: str, redirect_uri: str, state: str) -> TokenGrant:
        return self._token_request(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "state": state},
            sent_secrets=(code, state),
        )

    def refresh(self, refresh_token: str) -> TokenGrant:
        return self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, sent_secrets=(refresh_token,)
        )

    def revoke(self, access_token: str) -> None:
        """Ends the app's grant: this access token, its refresh token and their siblings."""
        response = self._post(
            "/oauth/revoke", headers={"Authorization": f"Bearer {access_token}"}, data=None, what="revoke"
        )
        if response.status_code >= 400:
            raise _rejection(response, "revoke", (access_token,))

    # ------------------------------------------------------------------ internals
    def _token_request(self, form: dict[str, str], *, sent_secrets: tuple[str, ...]) -> TokenGrant:
        app, reread = self._app.get(), False
        while True:
            secret = app.client_secret.get_secret_value()
            response = self._post(
                "/oauth/token",
                auth=httpx.BasicAuth(app.client_id, secret),
                data=form,
                what=form["grant_type"],
            )
            if response.status_code < 400:
                break
            rejection = _rejection(response, form["grant_type"], (*sent_secrets, secret))
            if rejection.error != "invalid_client" or reread:
                raise rejection
            # The app's credentials were refused: an operator may have rotated the client secret while
            # this process held the old one (the source caches it). Read it again; a changed one is tried
            # once (invalid_client means Fiken did not act on the request, so the grant is not spent).
            fresh, reread = self._app.get(fresh=True), True
            if (fresh.client_id, fresh.client_secret.get_secret_value()) == (app.client_id, secret):
                raise rejection
            app = fresh
        try:
            return TokenGrant.model_validate_json(response.content)
        except ValidationError:
            # Never chain: the validation error quotes the body, tokens included.
            raise TransientError(f"Fiken's token endpoint answered {form['grant_type']} unreadably") from None

    def _post(self, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        headers = {"Accept": "application/json", "X-Request-ID": str(uuid.uuid4())}
        headers.update(kwargs.pop("headers", {}))
        try:
            response = self._http.post(f"{self._base}{path}", headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise TransientError(f"Fiken OAuth {what} failed: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(f"Fiken OAuth {what} answered {response.status_code}")
        return response


def _rejection(response: httpx.Response, what: str, sent_secrets: tuple[str, ...]) -> OAuthRejected:
    error: str | None = None
    description = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            error = str(body.get("error") or "") or None
            description = str(body.get("error_description") or "")
    except (json.JSONDecodeError, ValueError):
        pass
    description = _redact(description, sent_secrets)[:200]
    reason = f"Fiken OAuth {what} rejected ({response.status_code} {error or 'no error code'})"
    if description:
        reason = f"{reason}: {description}"
    kind = InvalidGrant if error == "invalid_grant" else OAuthRejected
    return kind(reason, error=error, status_code=response.status_code)


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
