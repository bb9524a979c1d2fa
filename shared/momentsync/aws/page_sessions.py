"""The self-service page's sessions in DynamoDB: stored as a digest of the session id, expiring by TTL."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from momentsync.selfservice.sessions import SESSION_ID_SHAPE, PageSession, session_digest


class DynamoPageSessions:
    def __init__(self, table: Any, ttl: timedelta, *, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._ttl = ttl
        self._clock = clock

    def open(self, tenant_id: str) -> PageSession:
        session = PageSession(
            session_id=secrets.token_urlsafe(32),
            tenant_id=tenant_id,
            csrf_token=secrets.token_urlsafe(32),
            expires_at=int(self._clock() + self._ttl.total_seconds()),
        )
        self._table.put_item(
            Item={
                "pk": _key(session.session_id),
                "tenant_id": tenant_id,
                "csrf_token": session.csrf_token,
                "expires_at": session.expires_at,
            }
        )
        return session

    def find(self, tenant_id: str, session_id: str | None) -> PageSession | None:
        """The live session for this tenant, or None (unknown, expired, or another tenant's)."""
        if not session_id or not SESSION_ID_SHAPE.match(session_id):
            return None
        item = self._table.get_item(Key={"pk": _key(session_id)}, ConsistentRead=True).get("Item")
        if not item or int(item["expires_at"]) < self._clock():
            return None
        # Bytes: compare_digest raises TypeError on a str holding non-ASCII (a path like /tenant/é).
        if not hmac.compare_digest(str(item["tenant_id"]).encode(), tenant_id.encode()):
            return None
        return PageSession(session_id, tenant_id, str(item["csrf_token"]), int(item["expires_at"]))

    def close(self, session: PageSession) -> None:
        self._table.delete_item(Key={"pk": _key(session.session_id)})


def _key(session_id: str) -> str:
    return f"session#{session_digest(session_id)}"
