"""The status counts item costs a write only when what `momentsync status` shows changes: an outcome
moving between counts, a new error, or the last success moving to another minute (it is shown to the
minute). DynamoSyncState on the local stack's moto server, the table as template.yaml defines it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from momentsync.aws.sync_state import DynamoSyncState
from momentsync.sync.sync_state import SyncLink
from tests.unit.test_port_contracts import aws, template_table  # noqa: F401 - the fixture, used by name

MINUTE = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


class UpdateCountingTable:
    """The boto3 Table, counting its UpdateItem calls (the status counts' only write)."""

    def __init__(self, table) -> None:
        self._table = table
        self.updates = 0

    def update_item(self, **kwargs):
        self.updates += 1
        return self._table.update_item(**kwargs)

    def __getattr__(self, name):
        return getattr(self._table, name)


def synced(moment_id: int, at: datetime, **update) -> SyncLink:
    return SyncLink(
        tenant_id="acme",
        entity_type="customer",
        moment_id=moment_id,
        remote_id=str(moment_id),
        last_outcome="synced",
        last_success_at=at,
        source_modified_at=at,
    ).model_copy(update=update)


def stored_last_success(state: DynamoSyncState) -> datetime:
    return state.status_counts("acme").last_success_at["customer"]


def test_a_second_success_in_the_same_minute_writes_no_counts(aws):  # noqa: F811
    table = UpdateCountingTable(template_table("SyncStateTable"))
    state = DynamoSyncState(table)
    state.save(synced(1, MINUTE + timedelta(seconds=5)))  # new record: counted
    assert table.updates == 1

    state.save(synced(1, MINUTE + timedelta(seconds=40)))  # changed again, still synced, same minute

    assert table.updates == 1
    # What status shows, to the minute, is the true last success; the counts are exact.
    assert stored_last_success(state).replace(second=0) == MINUTE
    assert state.status_counts("acme").counts == {"customer": {"synced": 1}}


def test_a_success_in_a_later_minute_is_written(aws):  # noqa: F811
    table = UpdateCountingTable(template_table("SyncStateTable"))
    state = DynamoSyncState(table)
    state.save(synced(1, MINUTE + timedelta(seconds=5)))
    state.save(synced(1, MINUTE + timedelta(seconds=61)))

    assert table.updates == 2
    assert stored_last_success(state) == MINUTE + timedelta(seconds=61)


def test_an_outcome_change_is_always_written_with_its_success(aws):  # noqa: F811
    table = UpdateCountingTable(template_table("SyncStateTable"))
    state = DynamoSyncState(table)
    state.save(synced(1, MINUTE + timedelta(seconds=5)))
    state.save(synced(1, MINUTE + timedelta(seconds=10), last_outcome="unchanged"))
    state.save(synced(1, MINUTE + timedelta(seconds=20)))

    assert table.updates == 3
    assert state.status_counts("acme").counts == {"customer": {"synced": 1, "unchanged": 0}}
    assert stored_last_success(state) == MINUTE + timedelta(seconds=20)


def test_an_error_in_the_same_minute_is_written(aws):  # noqa: F811
    table = UpdateCountingTable(template_table("SyncStateTable"))
    state = DynamoSyncState(table)
    state.save(synced(1, MINUTE + timedelta(seconds=5)))
    state.save(
        synced(
            1,
            MINUTE + timedelta(seconds=5),
            last_error="Fiken said 500",
            last_error_at=MINUTE + timedelta(seconds=30),
            source_modified_at=MINUTE + timedelta(seconds=30),
        )
    )

    assert table.updates == 2
    assert state.status_counts("acme").last_error == {"customer": "Fiken said 500"}


def test_a_failed_counts_write_is_tried_again_by_the_next_success(aws):  # noqa: F811
    table = UpdateCountingTable(template_table("SyncStateTable"))
    state = DynamoSyncState(table)
    state.save(synced(1, MINUTE + timedelta(seconds=5)))

    def refuse(**_):
        table.updates += 1
        raise RuntimeError("throttled")

    table.update_item = refuse  # the next counts write fails (logged, the record is saved)
    state.save(synced(1, MINUTE + timedelta(seconds=70)))
    del table.update_item
    state.save(synced(1, MINUTE + timedelta(seconds=80)))

    assert table.updates == 3  # the failed minute was not remembered as written
    assert stored_last_success(state) == MINUTE + timedelta(seconds=80)
