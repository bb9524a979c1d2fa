"""The local event source mapping behaves like Lambda's FIFO mapping (issue 14 item 5): while a message
of a group waits for redelivery, no later message of that group is delivered.

Before: moto delivered a group's later messages while its failed first one was still invisible, as soon
as those had become visible themselves (accepted a, b, c, d; processed a, c, d, b)."""

from __future__ import annotations

from momentsync.sync.transfer_log import Outcome


def test_a_tenants_order_holds_with_a_failing_message_in_the_middle(pipeline):
    with pipeline.stack.processing_paused(purge=False):
        customers = [pipeline.driver.create_customer(name=f"Kunde {name} AS") for name in "abcd"]
        poison = customers[1]
        # Two deliveries' worth of 503s (the Moment client tries 4 times per delivery): b is retried by SQS.
        pipeline.moment.fault_plan.script(
            "status", status=503, times=8, method="GET", path=rf"/customers/{poison.id}$"
        )
    pipeline.settle(90)

    entries = [e for e in pipeline.log() if e.entity_type == "customer"]  # oldest first
    finished = [e.entity_id for e in entries if e.outcome is Outcome.SYNCED]
    assert finished == [c.id for c in customers]
    assert [
        e.receive_count for e in entries if e.entity_id == poison.id and e.outcome is Outcome.RETRYING
    ] == [1, 2]
    # Nothing of c or d was processed before b's final delivery: per-tenant order held.
    poison_done = next(
        i for i, e in enumerate(entries) if e.entity_id == poison.id and e.outcome is Outcome.SYNCED
    )
    assert all(
        i > poison_done for i, e in enumerate(entries) if e.entity_id in {customers[2].id, customers[3].id}
    )


def test_a_poison_event_holds_its_tenant_only_for_its_bounded_retries_then_is_dead_lettered_with_the_reason(
    pipeline, monkeypatch
):
    """A record raising what nobody classified (here a simulated bug: ``decimal.Rounded``, as a 40-digit
    id once did) is tried 3 times within one delivery, dead-lettered with its reason, and the tenant's
    later events follow at once, in order. Before: 6 deliveries (100 minutes deployed), then the DLQ
    without a reason, with the later events dead-lettered behind it unprocessed."""
    import decimal

    processor = pipeline.stack.function_module("ProcessorFunction").event_processor
    real = dict(processor.use_cases)
    with pipeline.stack.processing_paused(purge=False):
        customers = [pipeline.driver.create_customer(name=f"Kunde {name} AS") for name in "abcd"]
        poison = customers[1]

        def customer_use_case(envelope, tenant):
            if envelope.entity_id == poison.id:
                raise decimal.Rounded([decimal.Rounded])
            return real["customer"](envelope, tenant)

        monkeypatch.setattr(processor, "use_cases", {**real, "customer": customer_use_case})
    pipeline.settle(60)

    entries = [e for e in pipeline.log() if e.entity_type == "customer"]
    assert [e.entity_id for e in entries if e.outcome is Outcome.SYNCED] == [
        customers[i].id for i in (0, 2, 3)
    ]
    poison_entries = [e for e in entries if e.entity_id == poison.id]
    assert [e.outcome for e in poison_entries] == [Outcome.RETRYING, Outcome.RETRYING, Outcome.FAILED]
    assert {e.receive_count for e in poison_entries} == {1}  # one delivery: SQS never had to redeliver it
    assert poison_entries[-1].reason.startswith("unexpected failure, gave up after 3 attempts: Rounded")
    # The tenant's next event started within the bounded retries (0.2 s + 1.0 s of backoff), not a visibility.
    held = next(e for e in entries if e.entity_id == customers[2].id).logged_at - poison_entries[0].logged_at
    assert held.total_seconds() < 5
    [letter] = pipeline.dead_letters()
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attributes["error_class"] == "Rounded"
    assert "gave up after 3 attempts" in attributes["reason"]
