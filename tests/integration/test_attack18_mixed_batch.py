"""Attack on issue 18 item 1: one FIFO batch mixing 10 tenants, some of them failing in different ways,
run through the real processor (tenants overlapped on threads) on the local stack. Each tenant's events
must end exactly once where they belong, in order, whatever its neighbours in the batch did."""

from __future__ import annotations

from momentsync.aws.sync_state import DynamoSyncState
from momentsync.sync.sync_state import StatusCounts
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TenantStatus

FINAL = {Outcome.SYNCED, Outcome.PARKED, Outcome.FAILED, Outcome.NOT_FOUND}


def test_ten_tenants_in_one_batch_with_failures_in_some_each_end_exactly_once_in_order(
    make_pipeline, stack, monkeypatch
):
    pipelines = [make_pipeline() for _ in range(10)]
    ours = {p.tenant_id for p in pipelines}
    groups_per_batch: list[int] = []
    processor = stack.handlers["ProcessorFunction"]

    def counting(event, context):
        groups = {r["attributes"]["MessageGroupId"] for r in event["Records"]}
        groups_per_batch.append(len(groups & ours))
        return processor(event, context)

    monkeypatch.setitem(stack.handlers, "ProcessorFunction", counting)
    with stack.processing_paused(purge=False):
        sent = {
            p.tenant_id: [p.driver.create_customer(name=f"Kunde {i} {n} AS") for n in "ab"]
            for i, p in enumerate(pipelines)
        }
        slow, paused, refused, gone = pipelines[1], pipelines[2], pipelines[3], pipelines[4]
        first = {p.tenant_id: sent[p.tenant_id][0].id for p in pipelines}
        # Transient: Moment 503 for two deliveries' worth of attempts (4 per delivery).
        slow.moment.fault_plan.script(
            "status",
            status=503,
            times=8,
            method="GET",
            path=rf"/{slow.company}/customers/{first[slow.tenant_id]}$",
        )
        paused.update_tenant(status=TenantStatus.PAUSED, status_reason="operator")
        # Permanent: Fiken refuses the first create of this company.
        refused.fiken.fault_plan.script(
            "status",
            status=400,
            times=1,
            method="POST",
            path=rf"/companies/{refused.slug}/contacts$",
            body={"message": "Ugyldig e-postadresse"},
        )
        gone.moment.fault_plan.script(
            "status",
            status=404,
            times=1,
            method="GET",
            path=rf"/{gone.company}/customers/{first[gone.tenant_id]}$",
        )
    for p in pipelines:
        p.settle(120)
    assert max(groups_per_batch) >= 5  # several tenants did share a batch

    for index, p in enumerate(pipelines):
        a, b = sent[p.tenant_id]
        log = [e for e in p.log() if e.entity_type == "customer"]  # oldest first
        finals = [(e.entity_id, e.outcome) for e in log if e.outcome in FINAL]
        if p is paused:
            assert finals == [(a.id, Outcome.PARKED), (b.id, Outcome.PARKED)], index
            assert p.contacts() == []
            assert [envelope.entity_id for envelope, _ in p.parked()] == [a.id, b.id]
            continue
        expected_a = {3: Outcome.FAILED, 4: Outcome.NOT_FOUND}.get(index, Outcome.SYNCED)
        assert finals == [(a.id, expected_a), (b.id, Outcome.SYNCED)], index
        retries = [(e.entity_id, e.receive_count) for e in log if e.outcome is Outcome.RETRYING]
        assert retries == ([(a.id, 1), (a.id, 2)] if p is slow else []), index
        # Exactly once in the books: one contact per synced customer, no duplicate.
        names = sorted(c["name"] for c in p.contacts())
        wanted = sorted(
            c.name for c, outcome in ((a, expected_a), (b, Outcome.SYNCED)) if outcome is Outcome.SYNCED
        )
        assert names == wanted, index
        assert len(p.dead_letters()) == (1 if p is refused else 0), index
        # `momentsync status` reads the counts item the saves keep: it equals a recount of the links.
        state = DynamoSyncState(p._table("SYNC_STATE_TABLE"))
        shown, recounted = state.status_counts(p.tenant_id), StatusCounts.of_links(state.list(p.tenant_id))
        assert shown.counts == recounted.counts, index
        assert shown.counts["customer"].get(expected_a.value, 0) >= 1, index
        assert {k: v.replace(second=0, microsecond=0) for k, v in shown.last_success_at.items()} == {
            k: v.replace(second=0, microsecond=0) for k, v in recounted.last_success_at.items()
        }, index
