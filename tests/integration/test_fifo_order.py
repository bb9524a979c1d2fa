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
