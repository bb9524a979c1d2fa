"""Fuzzing that reaches the processor (issue 14 item 7): generated webhooks through the whole local
stack (HTTP API -> webhook function -> SQS FIFO on moto -> event source mapping -> processor ->
emulated Moment and Fiken).

Each example posts a generated sequence of webhooks to one tenant: references to records that exist
in Moment, ids Moment does not know, hostile bodies (huge and negative ids, floats, Infinity, deep
nesting, unicode edge cases). Properties:

- every answer is 202 or a 4xx, never a 5xx;
- every event answered "queued" ends applied, skipped, ``deleted``, ``not_found`` or dead-lettered
  with a reason (never lost, never left retrying);
- no event waits for a redelivery (every transfer-log entry is from the first delivery), so no
  accepted event delays the tenant's later ones beyond the in-delivery bound, and the tenant's events
  start in the order they were accepted.

``MOMENTSYNC_PIPELINE_FUZZ_EXAMPLES`` (default 3, ``make fuzz``: 60) sets the number of sequences;
the counts are printed (``-s``) and asserted.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from momentsync.sync.transfer_log import Outcome

EXAMPLES = int(os.environ.get("MOMENTSYNC_PIPELINE_FUZZ_EXAMPLES", "3"))
TERMINAL = {
    Outcome.SYNCED,
    Outcome.UNCHANGED,
    Outcome.FLAGGED,
    Outcome.WAITING,
    Outcome.SKIPPED,
    Outcome.DELETED,
    Outcome.NOT_FOUND,
    Outcome.FAILED,
}
TOTALS: Counter[str] = Counter()

kinds = st.sampled_from(["customer", "project", "invoice"])
hostile_ids = st.one_of(
    st.integers(min_value=1, max_value=2**63 - 1),
    st.just(2**63),
    st.just(2**70),
    st.just(10**40 - 1),
    st.integers(max_value=0),
    st.floats(),
)
odd_text = st.text(
    alphabet=st.one_of(
        st.characters(codec=None, categories=None),
        st.sampled_from(["\x00", "\uffff", "\ud800", "\U0001f37a"]),
    ),
    max_size=8,
)
events = st.one_of(st.sampled_from(["CREATE_NEW", "UPDATE", "DELETE"]), odd_text, st.integers(), st.floats())


def _nested(depth: int) -> bytes:
    return b'{"event":"UPDATE","customer":{"id":1},"x":' + b"[" * depth + b"]" * depth + b"}"


@st.composite
def webhook(draw, known: dict[str, list[int]]) -> bytes:
    choice = draw(st.sampled_from(["known", "unknown", "hostile", "nested", "noise"]))
    kind = draw(kinds)
    if choice == "known":
        return json.dumps({"event": "UPDATE", kind: {"id": draw(st.sampled_from(known[kind]))}}).encode()
    if choice == "unknown":
        return json.dumps(
            {"event": draw(events), kind: {"id": draw(st.integers(8 * 10**8, 9 * 10**8))}}
        ).encode()
    if choice == "nested":
        return _nested(draw(st.sampled_from([5, 15, 17, 1000, 100_000])))
    if choice == "noise":
        return json.dumps(
            {"event": draw(events), kind: {"id": 1}, "note": draw(odd_text), "n": draw(st.floats())}
        ).encode()
    return json.dumps(
        {"event": draw(events), kind: {"id": draw(hostile_ids), "name": draw(odd_text)}}
    ).encode()


def take_dead_letters(pipeline) -> dict[str, dict]:
    """Receives and deletes the tenant's dead letters, by event id (a FIFO peek shows only the first 10
    of a group, so they are consumed as they are checked); other tests' letters are given back."""
    sqs, url = pipeline.stack.aws.client("sqs"), pipeline.stack.physical("DeadLetterQueue")
    found: dict[str, dict] = {}
    others: list[str] = []
    while batch := sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=30,
        MessageAttributeNames=["All"],
        AttributeNames=["All"],
    ).get("Messages", []):
        for message in batch:
            if message["Attributes"]["MessageGroupId"] == pipeline.tenant_id:
                found[message["MessageAttributes"]["event_id"]["StringValue"]] = message
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                others.append(message["ReceiptHandle"])
    for handle in others:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return found


def test_every_accepted_event_ends_with_an_outcome_and_keeps_its_tenants_order(pipeline, capsys):
    driver = pipeline.driver
    customer = driver.create_customer(name="Fuzz AS")
    project = driver.create_project(name="Fuzz", customer=customer.id, start_date="2026-11-02")
    invoice = driver.finalize_invoice(customer=customer.id, project=project.id)
    pipeline.settle(60)
    known = {"customer": [customer.id], "project": [project.id], "invoice": [invoice.id]}

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.lists(webhook(known), min_size=4, max_size=12))
    def sequence(bodies: list[bytes]) -> None:
        accepted: list[str] = []
        with httpx.Client(timeout=30) as client:
            for body in bodies:
                response = client.post(
                    driver.webhook_url, content=body, headers={"content-type": "application/json"}
                )
                assert response.status_code < 500, (response.status_code, response.text, body[:200])
                TOTALS[f"http {response.status_code}"] += 1
                if response.status_code == 202 and response.json()["status"] == "queued":
                    accepted.append(response.json()["eventId"])
        pipeline.settle(120)

        entries = [e for e in pipeline.log() if e.event_id in set(accepted)]
        dead_letters: dict[str, dict] = {}
        by_event: dict[str, list] = {}
        for entry in entries:
            by_event.setdefault(entry.event_id, []).append(entry)
        for event_id in accepted:
            assert event_id in by_event, f"event {event_id} was accepted but never processed"
            final = by_event[event_id][-1]
            assert final.outcome in TERMINAL, (final.outcome, final.reason)
            if final.outcome is Outcome.FAILED:
                assert final.reason
                dead_letters.update(take_dead_letters(pipeline))
                letter = dead_letters.get(event_id)
                assert letter and letter["MessageAttributes"]["reason"]["StringValue"]
            TOTALS[f"outcome {final.outcome.value}"] += 1
            if final.outcome is Outcome.FAILED:
                TOTALS[f"failed: {final.reason[:60]}"] += 1
        # No accepted event waited for a redelivery: nothing held the tenant beyond one delivery.
        assert {e.receive_count for e in entries} <= {1}
        first_seen = sorted(by_event, key=lambda event_id: by_event[event_id][0].logged_at)
        assert first_seen == accepted, "the tenant's events did not start in the order they were accepted"
        TOTALS["sequences"] += 1
        TOTALS["webhooks"] += len(bodies)
        TOTALS["accepted"] += len(accepted)

    sequence()
    with capsys.disabled():
        print(f"\npipeline fuzz: {dict(sorted(TOTALS.items()))}")
    assert TOTALS["sequences"] >= EXAMPLES and TOTALS["accepted"] > 0
