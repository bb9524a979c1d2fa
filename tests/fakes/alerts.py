"""Operator alerts, the tenant-notice throttle, the audit trail and bearer tokens, in memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from momentsync.clock import utcnow


class InMemoryOperatorAlerts:
    """Dead letters, not-found bursts and deep-check drift, as published to the operator topic."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def dead_lettered(
        self, *, message_id: str, body: str, tenant_id: str, reason: str, error_class: str, receive_count: int
    ) -> None:
        self.sent.append(
            (
                "dead_letter",
                {
                    "message_id": message_id,
                    "body": body,
                    "tenant_id": tenant_id,
                    "reason": reason,
                    "error_class": error_class,
                    "receive_count": receive_count,
                },
            )
        )

    def not_found_burst(
        self, *, tenant_id: str, count: int, window_minutes: int, sample_ids: list[str]
    ) -> None:
        self.sent.append(
            (
                "not_found_burst",
                {
                    "tenant_id": tenant_id,
                    "count": count,
                    "window_minutes": window_minutes,
                    "sample_ids": sample_ids,
                },
            )
        )

    def drift_found(self, *, counts: dict[str, int], samples: list[str]) -> None:
        self.sent.append(("deep_check_drift", {"counts": counts, "samples": samples}))

    def tenant_unhealthy(self, *, tenant_id: str, check: str, detail: str, remedy: str) -> None:
        self.sent.append(("tenant_health", {"tenant_id": tenant_id, "check": check, "detail": detail}))


class InMemoryNotificationThrottle:
    """``DynamoNotificationThrottle``'s rule: one claim per (tenant, key) per window; a released claim
    (the e-mail failed) may be taken again at once."""

    def __init__(
        self, window: timedelta = timedelta(hours=24), clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.window = window
        self.clock = clock
        self.claimed: dict[tuple[str, str], datetime] = {}

    def claim(self, tenant_id: str, dedupe_key: str, *, kind: str) -> bool:
        now = self.clock()
        since = self.claimed.get((tenant_id, dedupe_key))
        if since is not None and now - since < self.window:
            return False
        self.claimed[(tenant_id, dedupe_key)] = now
        return True

    def release(self, tenant_id: str, dedupe_key: str) -> None:
        self.claimed.pop((tenant_id, dedupe_key), None)

    def held(self, tenant_id: str, dedupe_key: str) -> bool:
        """Whether a claim exists, as the adapter reads it (the health check re-arms a cleared check)."""
        return (tenant_id, dedupe_key) in self.claimed


class InMemoryAuditLog:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def record(
        self, *, actor: str, action: str, tenant_id: str | None = None, details: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        entry = {"actor": actor, "action": action, "tenant_id": tenant_id, "details": details or {}}
        self.entries.append(entry)
        return entry


class StaticTokens:
    """A bearer token source (Fiken's ``TokenProvider``, SpareBank 1's ``TokenSource``): a 401 on the
    current token swaps in ``refreshed`` once; a 401 on an older one gets the current (another caller
    refreshed meanwhile), as the real providers do under their lease."""

    def __init__(self, token: str = "token-1", refreshed: str = "token-2") -> None:  # noqa: S107 - test tokens
        self.token = token
        self._refreshed = refreshed
        self.refreshes = 0

    def access_token(self) -> str:
        return self.token

    def refresh_after_unauthorized(self, rejected_token: str) -> str:
        if rejected_token == self.token and self.token != self._refreshed:
            self.token = self._refreshed
            self.refreshes += 1
        return self.token

    def mint_again(self, rejected: str) -> str:
        return self.refresh_after_unauthorized(rejected)
