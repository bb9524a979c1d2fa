"""Sync state in memory, with ``DynamoSyncState.save``'s condition: an older Moment state never
overwrites a newer one (``StaleWrite``), a save without ``source_modified_at`` always lands."""

from __future__ import annotations

from momentsync.clock import utcnow
from momentsync.sync.sync_state import StaleWrite, StatusCounts, SyncLink, as_utc, record_key


class InMemorySyncState:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], SyncLink] = {}
        self.saves: list[SyncLink] = []  # every accepted write, in order (what a test reads back)
        self._counts: dict[str, StatusCounts] = {}

    def get(self, tenant_id: str, entity_type: str, moment_id: int) -> SyncLink | None:
        stored = self.items.get((tenant_id, record_key(entity_type, moment_id)))
        # A copy, as a read from DynamoDB is: a caller changing it changes nothing stored.
        return stored.model_copy(deep=True) if stored else None

    def save(self, link: SyncLink) -> SyncLink:
        link = link.model_copy(update={"updated_at": utcnow()}, deep=True)
        key = (link.tenant_id, link.record_key)
        old = self.items.get(key)
        if (
            old is not None
            and link.source_modified_at is not None
            and old.source_modified_at is not None
            and as_utc(old.source_modified_at) > as_utc(link.source_modified_at)
        ):
            raise StaleWrite(link.record_key)
        self.items[key] = link
        self.saves.append(link)
        self._counts.setdefault(link.tenant_id, StatusCounts()).add(old, link)
        return link.model_copy(deep=True)

    def list(
        self, tenant_id: str, entity_type: str | None = None, *, consistent: bool = False
    ) -> list[SyncLink]:
        return [
            link.model_copy(deep=True)
            for (tenant, key), link in sorted(self.items.items())
            if tenant == tenant_id and (entity_type is None or key.startswith(f"{entity_type}#"))
        ]

    def status_counts(self, tenant_id: str) -> StatusCounts:
        return self._counts.get(tenant_id, StatusCounts()).model_copy(deep=True)
