"""The processor's own ports in memory: transfer log, parked events, dead letters, tenant notices,
failure records. Each keeps what it was given, in order, for a test to read back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from momentsync.envelope import QueueEnvelope
from momentsync.sync.transfer_log import Outcome, TransferLogEntry
from momentsync.tenants import Tenant


class InMemoryTransferLog:
    def __init__(self) -> None:
        self.entries: list[TransferLogEntry] = []

    def record(self, entry: TransferLogEntry) -> None:
        self.entries.append(entry)

    def outcomes(self) -> list[Outcome]:
        return [entry.outcome for entry in self.entries]

    def query(
        self,
        tenant_id: str,
        *,
        since: datetime | None = None,
        entity_type: str | None = None,
        outcome: str | None = None,
        event_id: str | None = None,
        limit: int = 100,
        newest_first: bool = True,
        page_size: int | None = None,
        max_scanned: int | None = None,
    ) -> list[TransferLogEntry]:
        """As ``DynamoTransferLog.query``: by time (the sort key), then the filters; ``max_scanned``
        bounds the entries looked at, matching or not."""
        entries = sorted(
            (e for e in self.entries if e.tenant_id == tenant_id and (since is None or e.logged_at >= since)),
            key=lambda e: (e.logged_at, e.event_id),
            reverse=newest_first,
        )
        if max_scanned is not None:
            entries = entries[:max_scanned]
        matching = [
            e
            for e in entries
            if (entity_type is None or e.entity_type == entity_type)
            and (outcome is None or e.outcome == outcome)
            and (event_id is None or e.event_id == event_id)
        ]
        return matching[:limit]

    def last_logged_at(self, tenant_id: str) -> datetime | None:
        times = [e.logged_at for e in self.entries if e.tenant_id == tenant_id]
        return max(times, default=None)


class InMemoryParkedEvents:
    """Parked per tenant in arrival order; ``release`` takes one event back out (by its event id)."""

    def __init__(self) -> None:
        self.parked: dict[str, list[tuple[QueueEnvelope, str]]] = {}
        self.history: list[tuple[str, str]] = []  # ("park" | "release", event id)

    def park(self, envelope: QueueEnvelope, reason: str) -> None:
        events = self.parked.setdefault(envelope.tenant_id, [])
        if all(parked.event_id != envelope.event_id for parked, _ in events):
            events.append((envelope, reason))
        self.history.append(("park", envelope.event_id))

    def release(self, envelope: QueueEnvelope) -> None:
        events = self.parked.get(envelope.tenant_id, [])
        self.parked[envelope.tenant_id] = [(e, r) for e, r in events if e.event_id != envelope.event_id]
        self.history.append(("release", envelope.event_id))

    def list(self, tenant_id: str) -> list[tuple[QueueEnvelope, str]]:
        return sorted(
            self.parked.get(tenant_id, []), key=lambda item: (item[0].received_at, item[0].event_id)
        )

    def of(self, tenant_id: str) -> list[QueueEnvelope]:
        return [envelope for envelope, _ in self.parked.get(tenant_id, [])]

    def resume(self, tenant_id: str, queue: Any) -> int:
        """As ``DynamoParkedEvents.resume``: in arrival order (received_at, then event id), each removed
        only once it is sent, deduplicated per parked event."""
        resumed = 0
        for envelope in sorted(self.of(tenant_id), key=lambda e: (e.received_at, e.event_id)):
            queue.send(
                envelope.model_copy(update={"origin": "resume"}),
                deduplication_id=f"resume-{envelope.event_id}",
            )
            self.release(envelope)
            resumed += 1
        return resumed

    def count(self, tenant_id: str) -> int:
        return len(self.parked.get(tenant_id, []))

    def oldest_received_at(self, tenant_id: str) -> datetime | None:
        return min((e.received_at for e in self.of(tenant_id)), default=None)


class InMemoryDeadLetters:
    def __init__(self) -> None:
        self.letters: list[dict[str, Any]] = []

    def send(self, **kwargs: Any) -> str:
        self.letters.append(kwargs)
        return f"dlq-{len(self.letters)}"


class RecordingNotifier:
    def __init__(self) -> None:
        self.notices: list[dict[str, Any]] = []

    def notify(self, tenant: Tenant, *, kind: str, subject: str, message: str, dedupe_key: str) -> None:
        self.notices.append(
            {
                "tenant_id": tenant.tenant_id,
                "kind": kind,
                "subject": subject,
                "message": message,
                "dedupe_key": dedupe_key,
            }
        )


class RecordingFailures:
    def __init__(self) -> None:
        self.failures: list[tuple[str, Outcome, str]] = []

    def __call__(self, envelope: QueueEnvelope, outcome: Outcome, reason: str) -> None:
        self.failures.append((envelope.event_id, outcome, reason))
