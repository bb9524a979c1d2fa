"""One-time tokens (connect links, OAuth state) in DynamoDB: stored as a hash, consumed once."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr

from momentsync.aws.items import plain_values
from momentsync.connect.links import OneTimeGrant, OneTimeTokenKind, OneTimeTokenRejected

_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")  # what token_urlsafe(32) gives, with room


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
        return OneTimeGrant(tenant_id=item["tenant_id"], data=plain_values(item.get("data") or {}))

    def peek(self, kind: OneTimeTokenKind, token: str | None) -> OneTimeGrant:
        """The token's grant WITHOUT spending it (a link's landing page: mail scanners GET links)."""
        if not token or not _TOKEN_SHAPE.match(token):
            raise OneTimeTokenRejected(kind, "unknown")
        item = self._table.get_item(Key={"pk": _key(kind, token)}, ConsistentRead=True).get("Item")
        if item is None:
            raise OneTimeTokenRejected(kind, "unknown")
        if int(item["expires_at"]) < int(self._clock()):
            raise OneTimeTokenRejected(kind, "expired")
        return OneTimeGrant(tenant_id=item["tenant_id"], data=plain_values(item.get("data") or {}))


def _key(kind: OneTimeTokenKind, token: str) -> str:
    digest = hashlib.sha256(f"{kind.value}:{token}".encode()).hexdigest()
    return f"{kind.value}#{digest}"
