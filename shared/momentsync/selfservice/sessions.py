"""Page sessions on the auth table: only the SHA-256 of the session id is stored, with its tenant, its
CSRF token and an expiry (also the table's TTL). A session works for the one tenant it was opened for."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

_SESSION_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


@dataclass(frozen=True)
class PageSession:
    session_id: str  # the cookie value; never stored
    tenant_id: str
    csrf_token: str
    expires_at: int

    def csrf_matches(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token, token or "")

    @property
    def reference(self) -> str:
        """Who acted, for the audit trail: the session, not its secret id."""
        return f"tenant-page:{_digest(self.session_id)[:12]}"


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
        if not session_id or not _SESSION_SHAPE.match(session_id):
            return None
        item = self._table.get_item(Key={"pk": _key(session_id)}, ConsistentRead=True).get("Item")
        if not item or int(item["expires_at"]) < self._clock():
            return None
        if not hmac.compare_digest(str(item["tenant_id"]), tenant_id):
            return None
        return PageSession(session_id, tenant_id, str(item["csrf_token"]), int(item["expires_at"]))

    def close(self, session: PageSession) -> None:
        self._table.delete_item(Key={"pk": _key(session.session_id)})


def _digest(session_id: str) -> str:
    return hashlib.sha256(f"page-session:{session_id}".encode()).hexdigest()


def _key(session_id: str) -> str:
    return f"session#{_digest(session_id)}"
