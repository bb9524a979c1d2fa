"""What the Fiken connect flow talks to besides tenants, credentials, parked events and the queue:
one-time tokens, Fiken's OAuth server and company list, and the per-tenant token lease."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from momentsync.aws.leases import Lease, LeaseBusy
from momentsync.connect.flow import FikenCompany
from momentsync.connect.links import OneTimeGrant, OneTimeTokenKind, OneTimeTokenRejected
from momentsync.connectors.fiken.oauth import InvalidGrant, OAuthRejected, TokenGrant


class InMemoryOneTimeTokens:
    """``DynamoOneTimeTokens``' rules: a token is spent by its first consume; an expired one is
    refused as expired (naming its tenant on consume); peek never spends."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.items: dict[tuple[OneTimeTokenKind, str], tuple[str, float, dict[str, Any]]] = {}

    def issue(
        self, kind: OneTimeTokenKind, tenant_id: str, ttl: timedelta, data: dict[str, Any] | None = None
    ) -> tuple[str, datetime]:
        token = secrets.token_urlsafe(32)
        expires_at = int(self.clock() + ttl.total_seconds())
        self.items[(kind, token)] = (tenant_id, expires_at, dict(data or {}))
        return token, datetime.fromtimestamp(expires_at, UTC)  # as DynamoOneTimeTokens (the port) returns

    def consume(self, kind: OneTimeTokenKind, token: str | None) -> OneTimeGrant:
        item = self.items.pop((kind, token or ""), None)
        if item is None:
            raise OneTimeTokenRejected(kind, "unknown")
        tenant_id, expires_at, data = item
        if expires_at < int(self.clock()):
            raise OneTimeTokenRejected(kind, "expired", tenant_id)
        return OneTimeGrant(tenant_id=tenant_id, data=data)

    def peek(self, kind: OneTimeTokenKind, token: str | None) -> OneTimeGrant:
        item = self.items.get((kind, token or ""))
        if item is None:
            raise OneTimeTokenRejected(kind, "unknown")
        tenant_id, expires_at, data = item
        if expires_at < int(self.clock()):
            raise OneTimeTokenRejected(kind, "expired")
        return OneTimeGrant(tenant_id=tenant_id, data=dict(data))


class InMemoryFikenOAuth:
    """Fiken's OAuth server as the flow meets it: a code is exchanged once; each grant has an access
    and a refresh token; revoke ends the grant (a second revoke is refused, as Fiken's is)."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}  # code -> state it was issued for
        self.live: dict[str, str] = {}  # access token -> grant id
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> grant id
        self.revoked: list[str] = []  # grant ids, in order
        self._grants = 0

    def ensure_configured(self) -> None:
        return None

    def authorize_url(self, *, redirect_uri: str, state: str) -> str:
        return f"https://fiken.example/oauth/authorize?state={state}&redirect_uri={redirect_uri}"

    def approve(self, state: str) -> str:
        """The user approved in Fiken: the code the browser comes back with."""
        code = secrets.token_urlsafe(16)
        self.codes[code] = state
        return code

    def exchange_code(self, *, code: str, redirect_uri: str, state: str) -> TokenGrant:
        if self.codes.pop(code, None) != state:
            raise InvalidGrant("code unknown or used", error="invalid_grant", status_code=400)
        return self._grant()

    def refresh(self, refresh_token: str) -> TokenGrant:
        grant = self.refresh_tokens.get(refresh_token)
        if grant is None or grant in self.revoked:
            raise InvalidGrant("refresh token revoked", error="invalid_grant", status_code=400)
        access = f"access-{secrets.token_hex(4)}"
        self.live[access] = grant
        return TokenGrant(access_token=SecretStr(access), expires_in=3600)

    def revoke(self, access_token: str) -> None:
        grant = self.live.get(access_token)
        if grant is None or grant in self.revoked:
            raise OAuthRejected("token not valid", error="invalid_token", status_code=401)
        self.revoked.append(grant)

    def grant_of(self, access_token: str) -> str:
        return self.live[access_token]

    def _grant(self) -> TokenGrant:
        self._grants += 1
        grant = f"grant-{self._grants}"
        access, refresh = f"access-{grant}", f"refresh-{grant}"
        self.live[access] = grant
        self.refresh_tokens[refresh] = grant
        return TokenGrant(access_token=SecretStr(access), refresh_token=SecretStr(refresh), expires_in=86157)


class FixedCompanies:
    """The companies the user let the app see; remembers which access token asked."""

    def __init__(self, *companies: FikenCompany) -> None:
        self.companies = list(companies)
        self.asked_with: list[str] = []

    def list(self, access_token: str) -> list[FikenCompany]:
        self.asked_with.append(access_token)
        return list(self.companies)


class InMemoryLeases:
    """One holder per name; a second ``hold`` of a held name fails at once with ``LeaseBusy``, as the
    adapter does after its wait (the flow never nests)."""

    def __init__(self) -> None:
        self.held: set[str] = set()
        self.taken: list[str] = []

    @contextmanager
    def hold(self, name: str, *, wait_seconds: float | None = None) -> Iterator[Lease]:
        if name in self.held:
            # As DynamoLeaseLock after its wait: a TransientError, so the event comes back later.
            raise LeaseBusy(f"lease {name} is held elsewhere; try again later")
        self.held.add(name)
        self.taken.append(name)
        try:
            yield Lease(name=name, owner="in-memory", expires_at=0)
        finally:
            self.held.discard(name)
