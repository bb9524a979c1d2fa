"""`status --recount` while the processor keeps saving: a save landing between the recount's read of
the records and its write of the counts must not be lost from the counts."""

from __future__ import annotations

from datetime import UTC, datetime

from momentsync.aws.sync_state import DynamoSyncState
from momentsync.sync.sync_state import StatusCounts, SyncLink

NOW = datetime.now(UTC)


class SaveDuringRecount(DynamoSyncState):
    """Another worker's save lands right after the recount listed the records (once)."""

    def __init__(self, table, other: DynamoSyncState, link: SyncLink) -> None:
        super().__init__(table)
        self._other, self._link = other, link

    def list(self, tenant_id, entity_type=None, **options):
        links = super().list(tenant_id, entity_type, **options)
        if self._link is not None:
            link, self._link = self._link, None
            self._other.save(link)
        return links


def link(tenant_id: str, moment_id: int, outcome: str) -> SyncLink:
    return SyncLink(
        tenant_id=tenant_id,
        entity_type="customer",
        moment_id=moment_id,
        last_outcome=outcome,
        source_modified_at=NOW,
    )


def test_a_save_racing_the_recount_is_kept_in_the_counts(paused_stack):
    table = paused_stack.aws.resource("dynamodb").Table(paused_stack.physical("SyncStateTable"))
    worker = DynamoSyncState(table)
    tenant_id = "t-recount-race"
    for moment_id in range(1, 4):
        worker.save(link(tenant_id, moment_id, "synced"))
    operator = SaveDuringRecount(table, worker, link(tenant_id, 2, "failed"))  # synced -> failed meanwhile
    operator.recount(tenant_id)
    stored = worker.status_counts(tenant_id).counts["customer"]
    truth = StatusCounts.of_links(worker.list(tenant_id)).counts["customer"]
    assert stored == truth == {"synced": 2, "failed": 1}
    worker.save(link(tenant_id, 2, "synced"))  # and later moves still add up, never below zero
    assert worker.status_counts(tenant_id).counts["customer"] == {"synced": 3, "failed": 0}
