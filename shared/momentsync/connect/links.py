"""One-time, expiring tokens of the connect flow: connect links, OAuth states, company choices.

Each is a random token handed to a browser; the auth table keeps only its SHA-256 (the tokens carry
256 random bits, so a plain hash is enough: nothing to brute-force) with the tenant it is bound to
and an expiry, which is also the table's TTL attribute. Consuming is one conditional delete, so a
token works once even when two requests race with it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from boto3.dynamodb.conditions import Attr

_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
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


class DynamoOneTimeTokens:
    """One-time tokens on the auth table (partition key ``pk``), next to the token leases."""

    def __init__(self, table: Any, *, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    def issue(
        self, kind: OneTimeTokenKind, tenant_id: str, ttl: timedelta, data: dict[str, Any] | None = None
    ) -> tuple[str, datetime]:
        """A new token and its expiry; the token itself is stored nowhere."""
        token = secrets.token_urlsafe(32)
        expires_at = int(self._clock() + ttl.total_seconds())
        self._table.put_item(
            Item={
                "pk": _key(kind, token),
                "tenant_id": tenant_id,
                "expires_at": expires_at,
                "data": data or {},
            },
            ConditionExpression=Attr("pk").not_exists(),
        )
        return token, datetime.fromtimestamp(expires_at, UTC)

    def consume(self, kind: OneTimeTokenKind, token: str | None) -> OneTimeGrant:
        """The token's grant, deleting it; OneTimeTokenRejected when unknown, used or expired."""
        if not token or not _TOKEN_SHAPE.match(token):
            raise OneTimeTokenRejected(kind, "unknown")
        key = {"pk": _key(kind, token)}
        try:
            item = self._table.delete_item(
                Key=key,
                ConditionExpression=Attr("pk").exists() & Attr("expires_at").gte(int(self._clock())),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )["Attributes"]
        except self._table.meta.client.exceptions.ConditionalCheckFailedException as exc:
            found = exc.response.get("Item")
            if found:
                self._table.delete_item(Key=key)  # expired: tidy up now rather than at TTL time
                # The failed condition's item comes in DynamoDB's wire format ({"S": ...}).
                tenant = found.get("tenant_id")
                tenant_id = tenant.get("S") if isinstance(tenant, dict) else tenant
                raise OneTimeTokenRejected(kind, "expired", tenant_id) from None
            raise OneTimeTokenRejected(kind, "unknown") from None
        return OneTimeGrant(tenant_id=item["tenant_id"], data=_plain(item.get("data") or {}))

    def peek(self, kind: OneTimeTokenKind, token: str | None) -> OneTimeGrant:
        """The token's grant WITHOUT spending it (a link's landing page: mail scanners GET links)."""
        if not token or not _TOKEN_SHAPE.match(token):
            raise OneTimeTokenRejected(kind, "unknown")
        item = self._table.get_item(Key={"pk": _key(kind, token)}, ConsistentRead=True).get("Item")
        if item is None:
            raise OneTimeTokenRejected(kind, "unknown")
        if int(item["expires_at"]) < int(self._clock()):
            raise OneTimeTokenRejected(kind, "expired")
        return OneTimeGrant(tenant_id=item["tenant_id"], data=_plain(item.get("data") or {}))


@dataclass(frozen=True)
class ConnectLink:
    tenant_id: str
    expires_at: datetime
    url: str = field(repr=False)


def create_connect_link(
    tokens: DynamoOneTimeTokens,
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


def _key(kind: OneTimeTokenKind, token: str) -> str:
    digest = hashlib.sha256(f"{kind.value}:{token}".encode()).hexdigest()
    return f"{kind.value}#{digest}"


def _plain(value: Any) -> Any:
    """DynamoDB returns numbers as Decimal; the grants hold only strings, bools and small ints."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if type(value).__name__ == "Decimal":
        return int(value)
    return value
