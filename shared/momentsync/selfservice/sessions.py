"""Page sessions on the auth table: only the SHA-256 of the session id is stored, with its tenant, its
CSRF token and an expiry (also the table's TTL). A session works for the one tenant it was opened for."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

SESSION_ID_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


@dataclass(frozen=True)
class PageSession:
    session_id: str  # the cookie value; never stored
    tenant_id: str
    csrf_token: str
    expires_at: int

    def csrf_matches(self, token: str | None) -> bool:
        # Bytes: compare_digest raises TypeError on a str holding non-ASCII (a posted csrf=é was a 503).
        return bool(token) and hmac.compare_digest(self.csrf_token.encode(), (token or "").encode())

    @property
    def reference(self) -> str:
        """Who acted, for the audit trail: the session, not its secret id."""
        return f"tenant-page:{session_digest(self.session_id)[:12]}"


def session_digest(session_id: str) -> str:
    return hashlib.sha256(f"page-session:{session_id}".encode()).hexdigest()
