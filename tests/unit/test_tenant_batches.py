"""One FIFO batch, its tenants overlapped (issue 18 item 1): each message group in order on its own thread,
skip-group-on-error and the partial batch response kept, and a tenant read once per group's run."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response

from momentsync.errors import TenantLevelError, TenantProblem
from momentsync.sync.processor import SyncResult
from momentsync.sync.tenant_batches import TenantGroupsProcessor
from momentsync.sync.transfer_log import Outcome
from tests.unit.test_processor_decisions import Tenants, build, envelope, tenant


def record(message_id: str, group: str) -> dict:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": "{}",
        "attributes": {"MessageGroupId": group, "ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-north-1:123456789012:events.fifo",
        "awsRegion": "eu-north-1",
    }


def batch(*ids: str) -> dict:
    """``"a1"`` is message a1 of group a."""
    return {"Records": [record(i, i[0]) for i in ids]}


def failures(response: dict) -> list[str]:
    return sorted(item["itemIdentifier"] for item in response["batchItemFailures"])


def test_two_tenants_of_one_batch_are_processed_at_the_same_time():
    # Each group's first record waits for the other group's: only overlapped runs get past the barrier.
    both_started = threading.Barrier(2, timeout=5)

    def handler(record):
        if record.message_id in ("a1", "b1"):
            both_started.wait()
        return "ok"

    response = process_partial_response(
        event=batch("a1", "b1", "a2", "b2"), record_handler=handler, processor=TenantGroupsProcessor()
    )
    assert response == {"batchItemFailures": []}


def test_a_tenants_records_run_in_queue_order_one_at_a_time():
    seen: dict[str, list[str]] = {"a": [], "b": []}
    running: dict[str, int] = {"a": 0, "b": 0}
    overlaps = []

    def handler(record):
        group = record.attributes.message_group_id
        running[group] += 1
        overlaps.append(running[group] > 1)
        time.sleep(0.01)  # long enough for another thread of the same group to show up if there were one
        seen[group].append(record.message_id)
        running[group] -= 1

    process_partial_response(
        event=batch("a1", "b1", "a2", "a3", "b2", "a4", "b3"),
        record_handler=handler,
        processor=TenantGroupsProcessor(),
    )
    assert seen == {"a": ["a1", "a2", "a3", "a4"], "b": ["b1", "b2", "b3"]}
    assert not any(overlaps)


def test_after_a_failure_only_that_tenants_later_records_are_failed_unprocessed():
    processed = []

    def handler(record):
        processed.append(record.message_id)
        if record.message_id == "a2":
            raise RuntimeError("boom")

    response = process_partial_response(
        event=batch("a1", "b1", "a2", "b2", "a3", "b3"),
        record_handler=handler,
        processor=TenantGroupsProcessor(),
    )
    assert failures(response) == ["a2", "a3"]
    assert "a3" not in processed
    assert sorted(processed) == ["a1", "a2", "b1", "b2", "b3"]


def test_a_batch_where_every_record_fails_is_a_partial_response_not_a_function_error():
    def handler(record):
        raise RuntimeError("down")

    response = process_partial_response(
        event=batch("a1", "b1", "a2"), record_handler=handler, processor=TenantGroupsProcessor()
    )
    assert failures(response) == ["a1", "a2", "b1"]


def test_one_worker_processes_the_tenants_one_after_another_on_the_invoking_thread():
    threads = set()

    def handler(record):
        threads.add(threading.current_thread().name)

    response = process_partial_response(
        event=batch("a1", "b1", "c1"), record_handler=handler, processor=TenantGroupsProcessor(max_workers=1)
    )
    assert response == {"batchItemFailures": []}
    assert threads == {threading.current_thread().name}


def test_each_group_runs_inside_its_own_scope_on_its_own_thread():
    scopes = []

    @contextmanager
    def scope():
        scopes.append(threading.current_thread().name)
        yield

    process_partial_response(
        event=batch("a1", "b1", "a2"),
        record_handler=lambda record: None,
        processor=TenantGroupsProcessor(group_scope=scope),
    )
    assert len(scopes) == 2
    assert all(name.startswith("tenant-group") for name in scopes)


def test_a_processor_with_no_worker_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        TenantGroupsProcessor(max_workers=0)


# ---------------------------------------------------------------------- the tenant read once per group
class CountingTenants(Tenants):
    def __init__(self, *tenants):
        super().__init__(*tenants)
        self.reads = 0

    def get(self, tenant_id):
        self.reads += 1
        return super().get(tenant_id)


def test_a_tenant_is_read_once_for_a_run_of_its_events():
    tenants = CountingTenants(tenant())
    processor, *_ = build(lambda envelope, tenant: SyncResult(Outcome.SYNCED), tenants=tenants)
    with processor.tenant_memo():
        outcomes = [processor.process(envelope()) for _ in range(3)]
    assert outcomes == [Outcome.SYNCED] * 3
    assert tenants.reads == 1
    processor.process(envelope())  # outside a group's run: read every time, as before
    assert tenants.reads == 2


def test_a_tenant_is_read_again_after_an_event_that_parked_it():
    tenants = CountingTenants(tenant())
    calls = []

    def use_case(envelope, tenant):
        calls.append(tenant.status)
        if len(calls) == 1:
            raise TenantLevelError(TenantProblem.NEEDS_REAUTH, "consent revoked")
        return SyncResult(Outcome.SYNCED)

    processor, *_ = build(use_case, tenants=tenants)
    with processor.tenant_memo():
        first = processor.process(envelope())
        second = processor.process(envelope())
    assert first is Outcome.PARKED
    # The second event saw the flag the first one stored, so it was parked without calling the use case.
    assert second is Outcome.PARKED
    assert len(calls) == 1
    assert tenants.reads >= 3  # the first event's read, its park check, the second event's fresh read


def test_metrics_added_from_many_threads_at_once_are_all_counted():
    from aws_lambda_powertools.metrics import MetricUnit

    from momentsync.observability import ThreadSafeMetrics

    metrics = ThreadSafeMetrics(namespace="Test", service="test")
    metrics.clear_metrics()
    start = threading.Barrier(8, timeout=5)

    def add():
        start.wait()
        for _ in range(10):  # 80 in all: below Powertools' 100-value flush
            metrics.add_metric(name="EventsSynced", unit=MetricUnit.Count, value=1)

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(metrics.metric_set["EventsSynced"]["Value"]) == 80
    finally:
        metrics.clear_metrics()
