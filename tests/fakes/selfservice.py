"""The self-service page's sessions and the stack's Fiken app secret, in memory."""

from __future__ import annotations

import secrets

from pydantic import SecretStr

from momentsync.connectors.fiken.oauth import FikenAppCredentials
from momentsync.selfservice.sessions import PageSession


class InMemoryPageSessions:
    """Sessions per id; ``find`` answers only the tenant the session was opened for, as the adapter."""

    def __init__(self, ttl_seconds: int = 3600, *, now: int = 0) -> None:
        self.sessions: dict[str, PageSession] = {}
        self._ttl = ttl_seconds
        self.now = now

    def open(self, tenant_id: str) -> PageSession:
        session = PageSession(
            secrets.token_urlsafe(32), tenant_id, secrets.token_urlsafe(32), self.now + self._ttl
        )
        self.sessions[session.session_id] = session
        return session

    def find(self, tenant_id: str, session_id: str | None) -> PageSession | None:
        session = self.sessions.get(session_id or "")
        if session is None or session.tenant_id != tenant_id or session.expires_at < self.now:
            return None
        return session

    def close(self, session: PageSession) -> None:
        self.sessions.pop(session.session_id, None)


class StaticFikenApp:
    """The stack's Fiken app credentials, fixed."""

    def __init__(self, client_id: str = "momentsync-test", client_secret: str = "app-secret") -> None:  # noqa: S107
        self.credentials = FikenAppCredentials(client_id=client_id, client_secret=SecretStr(client_secret))

    def get(self, *, fresh: bool = False) -> FikenAppCredentials:
        return self.credentials
