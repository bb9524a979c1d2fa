"""Lambda's timeout ends the processor without running the batch's end. The batch's transfer-log entries
are held in memory until then (one write per batch), so a tenant's event that was pushed to Fiken early
in the batch would be gone from the log, and its redelivery would log it only as "unchanged": the log
would never say it was synced. Near the deadline the batch writes what it holds (attack on #18, no. 10).

Here one batch carries two tenants; the second one's Moment read hangs past the invocation's deadline.
What is in the table at the deadline is what a killed process leaves behind."""

from __future__ import annotations

import inspect
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from local.lambda_runtime import LocalLambdaContext
from momentsync.aws.transfer_log import DEADLINE_MARGIN_SECONDS
from momentsync.sync.transfer_log import Outcome, TransferLogEntry
from tests.unit.test_attack61_transfer_log_deadline import throttled

INVOCATION_SECONDS = DEADLINE_MARGIN_SECONDS + 2.0
HANG_SECONDS = INVOCATION_SECONDS + 4.0


@dataclass
class PastItsDeadline:
    quick: Any  # the pipeline of the tenant whose event is done early in the batch
    hung: Any  # the pipeline of the tenant whose Moment read hangs past the deadline
    customer: Any = None  # the quick tenant's customer
    started: float = 0.0
    ended: float = 0.0
    at_deadline: list[TransferLogEntry] = field(default_factory=list)  # the quick tenant's log then


def batch_past_its_deadline(make_pipeline, stack, monkeypatch, *, on_batch=lambda: None) -> PastItsDeadline:
    """One batch of two tenants' new customers, the processor given INVOCATION_SECONDS for it and the
    second tenant's Moment read hanging past them; the quick tenant's log is read at the deadline (what a
    killed process leaves behind). ``on_batch`` runs as that batch starts."""
    quick, hung = make_pipeline(), make_pipeline()
    processor = stack.handlers["ProcessorFunction"]
    batches: list[PastItsDeadline] = []

    def short_lived(event, context):
        groups = {r["attributes"]["MessageGroupId"] for r in event["Records"]}
        if {quick.tenant_id, hung.tenant_id} <= groups:
            on_batch()
            batch = PastItsDeadline(quick, hung, started=time.monotonic())
            batches.append(batch)
            deadline = threading.Timer(INVOCATION_SECONDS, lambda: batch.at_deadline.extend(quick.log()))
            deadline.start()
            try:
                return processor(event, LocalLambdaContext(context.function_name, INVOCATION_SECONDS))
            finally:
                batch.ended = time.monotonic()
                deadline.join()
        return processor(event, context)

    monkeypatch.setitem(stack.handlers, "ProcessorFunction", short_lived)
    with stack.processing_paused(purge=False):
        customer = quick.driver.create_customer(name="Rask Kunde AS")
        slow = hung.driver.create_customer(name="Treg Kunde AS")
        hung.moment.fault_plan.script(
            "slow", seconds=HANG_SECONDS, method="GET", path=rf"/{hung.company}/customers/{slow.id}$"
        )
    quick.settle(120)
    hung.settle(120)
    [batch] = batches
    batch.customer = customer
    return batch


def test_an_event_synced_before_the_deadline_is_in_the_log_when_lambda_ends_the_batch(
    make_pipeline, stack, monkeypatch
):
    batch = batch_past_its_deadline(make_pipeline, stack, monkeypatch)
    quick, customer = batch.quick, batch.customer

    assert batch.ended - batch.started > INVOCATION_SECONDS  # it did run past its deadline
    # At the deadline, with the other tenant's request still hanging, the quick tenant's event was logged.
    assert [(e.entity_id, e.outcome) for e in batch.at_deadline] == [(customer.id, Outcome.SYNCED)]
    assert [c["name"] for c in quick.contacts()] == ["Rask Kunde AS"]
    assert [(e.entity_id, e.outcome) for e in quick.log()] == [(customer.id, Outcome.SYNCED)]  # once
    assert [e.outcome for e in batch.hung.log()][-1] is Outcome.SYNCED


def test_the_deployed_processor_writes_its_transfer_log_with_retries_that_fit_the_margin(stack):
    """Attack no. 61: botocore's default retries kept a throttled deadline write going some 25 s."""
    handler = inspect.unwrap(stack.handlers["ProcessorFunction"])
    config = handler.__globals__["event_processor"].transfer_log._deadline_table.meta.client.meta.config
    assert config.retries == {"mode": "legacy", "total_max_attempts": 3}
    assert config.read_timeout * 3 < DEADLINE_MARGIN_SECONDS


def test_an_event_synced_after_the_switch_whose_log_write_is_throttled_stays_synced(
    make_pipeline, stack, monkeypatch
):
    """Attack no. 61. After the switch to direct writes the processor's unguarded ``record`` of a
    synced event put the entry itself: a throttled PutItem raised into the event after its push, the
    record was logged "retrying", delivered again and logged "unchanged" (dead-lettered, had it been
    its last delivery), and the log never said it was synced."""
    pipeline = make_pipeline()
    processor = stack.handlers["ProcessorFunction"]
    transfer_log = inspect.unwrap(processor).__globals__["event_processor"].transfer_log
    table_name = transfer_log._table.name
    throttling = threading.Event()
    refused: list[str] = []

    def throttle(request, **_):
        if throttling.is_set() and json.loads(request.body or b"{}").get("TableName") == table_name:
            refused.append("PutItem")
            return throttled(request)
        return None

    transfer_log._deadline_table.meta.client.meta.events.register("before-send.dynamodb.PutItem", throttle)

    def past_the_margin(event, context):
        if {r["attributes"]["MessageGroupId"] for r in event["Records"]} == {pipeline.tenant_id}:
            throttling.set()
            try:  # less time left than the margin: every entry is written as it is recorded
                return processor(
                    event, LocalLambdaContext(context.function_name, DEADLINE_MARGIN_SECONDS - 1)
                )
            finally:
                throttling.clear()
        return processor(event, context)

    monkeypatch.setitem(stack.handlers, "ProcessorFunction", past_the_margin)
    customer = pipeline.driver.create_customer(name="Strupet Kunde AS")
    pipeline.settle(120)

    assert refused  # the direct write was refused
    assert [c["name"] for c in pipeline.contacts()] == ["Strupet Kunde AS"]
    assert [(e.entity_id, e.outcome, e.receive_count) for e in pipeline.log()] == [
        (customer.id, Outcome.SYNCED, 1)
    ]


def test_a_throttled_deadline_write_is_tried_again_before_lambda_ends_the_batch(
    make_pipeline, stack, monkeypatch
):
    """Attack no. 61: as the first test, but DynamoDB throttles the deadline write once. No later entry
    comes (the other tenant's request hangs past the deadline), and the batch's end comes too late."""
    transfer_log = (
        inspect.unwrap(stack.handlers["ProcessorFunction"]).__globals__["event_processor"].transfer_log
    )

    # The deadline write's first request is refused (before it is sent); later ones are answered.
    def throttle_first_request(model, **_):
        if model.name == "BatchWriteItem" and armed.is_set():
            armed.clear()
            attempts.append(1)
            raise ThrottledWrite("ProvisionedThroughputExceededException")

    armed = threading.Event()
    attempts: list[int] = []
    transfer_log._deadline_table.meta.client.meta.events.register(
        "before-call.dynamodb", throttle_first_request
    )
    batch = batch_past_its_deadline(make_pipeline, stack, monkeypatch, on_batch=armed.set)

    assert attempts == [1]  # the deadline write was refused
    assert [(e.entity_id, e.outcome) for e in batch.at_deadline] == [(batch.customer.id, Outcome.SYNCED)]


class ThrottledWrite(RuntimeError):
    pass
