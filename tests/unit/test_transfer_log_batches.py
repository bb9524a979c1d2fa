"""The processor's transfer log entries of one invocation are written together at its end (one
BatchWriteItem per 25, not one PutItem each), read back before any read of the log, written also when
the batch ends in an exception, and a write that fails at the end is reported with the events it lost,
never raised (that would deliver the whole batch again and dead-letter some records twice).
DynamoTransferLog on the local stack's moto server, the table as template.yaml defines it."""

from __future__ import annotations

import contextvars
import threading
import time
from datetime import timedelta

import pytest

from momentsync.aws.transfer_log import DEADLINE_MARGIN_SECONDS, DynamoTransferLog
from momentsync.sync.transfer_log import Outcome, TransferLogEntry
from tests.fakes.records import NOW
from tests.unit.test_port_contracts import aws, template_table  # noqa: F401 - the fixture, used by name


class CallCountingTable:
    """The boto3 Table, counting the client calls its writes make (its batch writes go through the client)."""

    def __init__(self, table) -> None:
        self._table = table
        self.calls: list[str] = []
        table.meta.client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model, **_) -> None:
        self.calls.append(model.name)

    def __getattr__(self, name):
        return getattr(self._table, name)


def entry(n: int, tenant_id: str = "acme", outcome: Outcome = Outcome.SYNCED) -> TransferLogEntry:
    return TransferLogEntry(
        tenant_id=tenant_id,
        event_id=f"event-{n}",
        entity_type="customer",
        entity_id=n,
        outcome=outcome,
        logged_at=NOW + timedelta(milliseconds=n),
    )


@pytest.fixture
def table(aws):  # noqa: F811
    return CallCountingTable(template_table("TransferLogTable"))


def test_a_batch_of_entries_is_one_write_at_its_end(table):
    log = DynamoTransferLog(table, timedelta(days=30))
    with log.batched():
        for n in range(7):
            log.record(entry(n))
        assert table.calls == []  # nothing written before the batch ends

    assert table.calls == ["BatchWriteItem"]
    assert [e.event_id for e in log.query("acme", newest_first=False)] == [f"event-{n}" for n in range(7)]


def test_thirty_entries_are_two_writes_and_outside_a_batch_each_entry_is_written_at_once(table):
    log = DynamoTransferLog(table, timedelta(days=30))
    with log.batched():
        for n in range(30):
            log.record(entry(n))
    assert table.calls == ["BatchWriteItem", "BatchWriteItem"]  # at most 25 items per call

    log.record(entry(99))
    assert table.calls[-1] == "PutItem"
    assert len(log.query("acme", limit=100)) == 31


def test_entries_from_the_groups_threads_are_all_written(table):
    log = DynamoTransferLog(table, timedelta(days=30))
    with log.batched():
        threads = [
            threading.Thread(
                target=contextvars.copy_context().run, args=(log.record, entry(n, f"tenant-{n}"))
            )
            for n in range(10)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(e.tenant_id for n in range(10) for e in log.query(f"tenant-{n}")) == sorted(
        f"tenant-{n}" for n in range(10)
    )


def test_a_read_of_the_log_within_the_batch_sees_its_own_entries(table):
    log = DynamoTransferLog(table, timedelta(days=30))
    with log.batched():
        log.record(entry(1, outcome=Outcome.NOT_FOUND))
        # The processor's not_found burst check reads the log right after logging.
        assert [e.event_id for e in log.query("acme", outcome="not_found")] == ["event-1"]
        assert log.last_logged_at("acme") == NOW + timedelta(milliseconds=1)


def test_entries_are_written_when_the_batch_ends_in_an_exception(table):
    log = DynamoTransferLog(table, timedelta(days=30))
    with pytest.raises(RuntimeError), log.batched():
        log.record(entry(1, outcome=Outcome.RETRYING))
        raise RuntimeError("a record failed unclassified")

    assert [e.outcome for e in log.query("acme")] == [Outcome.RETRYING]


def failing_writes(table, times: int):
    """The table's next ``times`` BatchWriteItems fail (DynamoDB throttling, say)."""
    failures = iter([RuntimeError("ProvisionedThroughputExceededException")] * times)

    def failing(**_):
        for error in failures:
            raise error

    table._table.meta.client.meta.events.register("before-call.dynamodb.BatchWriteItem", failing)


def test_entries_a_failed_write_within_the_batch_left_are_written_at_its_end(table):
    log = DynamoTransferLog(table, timedelta(days=30))
    failing_writes(table, times=1)
    with log.batched():
        log.record(entry(1))
        with pytest.raises(RuntimeError):
            log.flush()  # what a read of the log within the batch does first
        log.record(entry(2))

    assert [e.event_id for e in log.query("acme", newest_first=False)] == ["event-1", "event-2"]


def test_a_failed_write_at_the_end_is_reported_with_its_events_not_raised(table, caplog):
    log = DynamoTransferLog(table, timedelta(days=30))
    failing_writes(table, times=1)
    with log.batched():
        log.record(entry(1, outcome=Outcome.FAILED))
        log.record(entry(2))
    # Raising would make Lambda deliver the whole batch again: event-1, already dead-lettered, a second time.
    assert log.query("acme") == []
    [line] = [r for r in caplog.records if r.getMessage() == "could not write the transfer log"]
    assert line.levelname == "ERROR"
    assert line.entries_lost == 2
    assert [tuple(e) for e in line.events] == [("acme", "event-1", "failed"), ("acme", "event-2", "synced")]
    assert line.error_type == "RuntimeError"


def wait_for(condition, seconds: float = 10.0) -> None:
    """Polls until ``condition()`` holds (the deadline write runs on a timer thread)."""
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "the transfer log was not written before the deadline"
        time.sleep(0.01)


def stored(table) -> list[str]:
    """The event ids in the table, read past the log (whose reads first write the batch's own entries)."""
    return sorted(item["event_id"] for item in table._table.scan(ConsistentRead=True)["Items"])


def writes(table) -> list[str]:
    return [call for call in table.calls if call in ("BatchWriteItem", "PutItem")]


def test_near_the_deadline_the_batch_writes_what_it_holds_and_then_each_entry_at_once(table):
    """Lambda's timeout ends the process without running the batch's end: what was pushed would be
    logged only as "unchanged" by the redelivery. So the entries are written before the deadline."""
    log = DynamoTransferLog(table, timedelta(days=30))
    # The invocation has the margin and a little more left: the deadline write comes almost at once.
    with log.batched(lambda: DEADLINE_MARGIN_SECONDS + 0.05):
        log.record(entry(1))
        log.record(entry(2))
        # The batch does not end here: as if the next record's request hung until Lambda killed it.
        wait_for(lambda: stored(table) == ["event-1", "event-2"])
        assert writes(table) == ["BatchWriteItem"]
        log.record(entry(3))  # after the deadline write: written when recorded
        assert writes(table)[-1] == "PutItem"
        assert stored(table) == ["event-1", "event-2", "event-3"]
        calls = len(writes(table))
    assert len(writes(table)) == calls  # nothing left for the end


def test_a_batch_that_ends_well_before_its_deadline_writes_once_at_its_end(table):
    log = DynamoTransferLog(table, timedelta(days=30))
    with log.batched(lambda: 120.0):
        for n in range(3):
            log.record(entry(n))
    assert writes(table) == ["BatchWriteItem"]
    # The deadline timer went with the batch: no thread is left to write (or fire) later.
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]


def test_an_invocation_already_past_its_margin_writes_every_entry_at_once(table):
    log = DynamoTransferLog(table, timedelta(days=30))
    with log.batched(lambda: 1.0):  # less than the margin left
        log.record(entry(1))
        wait_for(lambda: stored(table) == ["event-1"])


def test_a_failed_deadline_write_is_kept_for_the_end_of_the_batch(table, caplog):
    log = DynamoTransferLog(table, timedelta(days=30))
    failing_writes(table, times=1)
    with log.batched(lambda: DEADLINE_MARGIN_SECONDS + 0.05):
        log.record(entry(1))
        wait_for(
            lambda: any(
                r.getMessage().startswith("could not write the transfer log before") for r in caplog.records
            )
        )
        assert stored(table) == []
    assert stored(table) == ["event-1"]  # written at the batch's end
    assert not [r for r in caplog.records if r.getMessage() == "could not write the transfer log"]
