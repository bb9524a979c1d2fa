"""Attack on issue 18 (the tenant read once per group's run): an operator disconnects or disables a tenant
while a batch of its events runs. The events after it in the batch still hold the tenant as it was read
for the first one (documented: applies from the next batch), meet Fiken's refusal, and are parked; its
people must not be mailed "needs attention, reconnect" for a connection an operator ended on purpose."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response

from momentsync.errors import TenantLevelError, TenantProblem
from momentsync.sync.processor import SyncResult
from momentsync.sync.tenant_batches import TenantGroupsProcessor
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TenantConflict, TenantStatus
from tests.unit.test_processor_decisions import Tenants, build, envelope, tenant
from tests.unit.test_tenant_batches import batch


class VersionedTenants(Tenants):
    """Saves only over the version read, as DynamoTenantRepository does."""

    def save(self, tenant):
        if tenant.version != self.items[tenant.tenant_id].version:
            raise TenantConflict("changed")
        return super().save(tenant)


@pytest.mark.parametrize(
    "refusal",
    [
        # What the token provider raises once the grant is revoked: it stores nothing over a disabled tenant.
        TenantLevelError(TenantProblem.NEEDS_REAUTH, "Fiken refused to renew access", recorded=True),
        # A refusal the processor records itself (from its older copy of the tenant).
        TenantLevelError(TenantProblem.MODULE_MISSING, "402: no project module"),
    ],
)
def test_a_tenant_disabled_during_its_batch_is_not_told_to_fix_its_connection(refusal):
    tenants = VersionedTenants(tenant())
    seen: list[str] = []

    def use_case(envelope, _tenant):
        seen.append(envelope.event_id)
        if len(seen) == 1:
            # The operator's `tenants disconnect` (or `disable`) lands while the first event runs.
            stored = tenants.get("acme")
            stored.status = TenantStatus.DISABLED
            stored.status_reason = "disconnected from Fiken by an operator"
            tenants.save(stored)
            return SyncResult(Outcome.SYNCED)
        raise refusal

    processor, log, parked, dlq, notifier, _ = build(use_case, tenants=tenants)
    records = iter(["e1", "e2"])

    def record_handler(record):
        return processor.process(envelope().model_copy(update={"event_id": next(records)})).value

    response = process_partial_response(
        event=batch("a1", "a2"),
        record_handler=record_handler,
        processor=TenantGroupsProcessor(group_scope=processor.tenant_memo),
    )
    assert response == {"batchItemFailures": []}
    assert [entry.outcome for ((entry,), _) in log.calls] == [Outcome.SYNCED, Outcome.PARKED]
    assert tenants.items["acme"].status is TenantStatus.DISABLED  # the operator's decision stands
    assert notifier.calls == []
    assert dlq.calls == []


def test_a_first_refusal_of_an_active_tenant_is_still_notified_once():
    tenants = VersionedTenants(tenant())
    refusal = TenantLevelError(TenantProblem.NEEDS_REAUTH, "Fiken refused to renew access", recorded=True)

    def use_case(_envelope, _tenant):
        stored = tenants.get("acme")  # what the token provider stores before it raises
        stored.status = TenantStatus.NEEDS_REAUTH
        tenants.save(stored)
        raise refusal

    processor, _, _, _, notifier, _ = build(use_case, tenants=tenants)
    assert processor.process(envelope()) is Outcome.PARKED
    assert len(notifier.calls) == 1
