"""One-time, expiring tokens of the connect flow: connect links, OAuth states, company choices.

Each is a random token handed to a browser; the auth table keeps only its SHA-256 (the tokens carry
256 random bits, so a plain hash is enough: nothing to brute-force) with the tenant it is bound to
and an expiry, which is also the table's TTL attribute. Consuming is one conditional delete, so a
token works once even when two requests race with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from momentsync.ports import OneTimeTokens

# A link is a bearer credential for choosing the tenant's books: short by default, never long.
DEFAULT_LINK_TTL = timedelta(hours=24)
MAX_LINK_TTL = timedelta(hours=72)


class OneTimeTokenKind(StrEnum):
    CONNECT_LINK = "link"
    OAUTH_STATE = "state"
    COMPANY_CHOICE = "choice"
    SELF_SERVICE_LINK = "page"  # momentsync.selfservice: opens the tenant's own page once


class OneTimeTokenRejected(Exception):
    """``unknown`` covers forged, mistyped and already used tokens (they are indistinguishable)."""

    def __init__(
        self, kind: OneTimeTokenKind, problem: Literal["unknown", "expired"], tenant_id: str | None = None
    ) -> None:
        super().__init__(f"{kind.value} token {problem}")
        self.kind = kind
        self.problem = problem
        # An expired token still names its tenant: what it guarded can be cleaned up.
        self.tenant_id = tenant_id


@dataclass(frozen=True)
class OneTimeGrant:
    tenant_id: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectLink:
    tenant_id: str
    expires_at: datetime
    url: str = field(repr=False)


def create_connect_link(
    tokens: OneTimeTokens,
    *,
    base_url: str,
    tenant_id: str,
    ttl: timedelta = DEFAULT_LINK_TTL,
    allow_company: str | None = None,
) -> ConnectLink:
    """A link the tenant's Fiken user opens once to approve momentsync (shown once, stored hashed).

    ``allow_company``: the operator confirmed that this Fiken company slug may be linked although its
    organisation number is not the tenant's (the exception travels with this one link only).
    """
    if ttl > MAX_LINK_TTL:
        raise ValueError(f"a connect link lives at most {int(MAX_LINK_TTL.total_seconds() // 3600)} hours")
    data = {"allow_company": allow_company} if allow_company else None
    token, expires_at = tokens.issue(OneTimeTokenKind.CONNECT_LINK, tenant_id, ttl, data)
    return ConnectLink(
        tenant_id=tenant_id,
        expires_at=expires_at,
        url=f"{base_url.rstrip('/')}/connect/fiken/{tenant_id}?token={token}",
    )
