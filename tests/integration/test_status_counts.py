"""`momentsync status` scales and tells the truth: counts kept on one status item per tenant as outcomes
are written (one read per tenant, no query of its records), equal to a recount from the records; the
connection judged from the stored credentials and the target's settings."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.aws.parking import DynamoParkedEvents
from momentsync.aws.sync_state import DynamoSyncState
from momentsync.credentials import OAuthTokens, TenantCredentials
from momentsync.operations.status import connection_state, tenant_report
from momentsync.sync.sync_state import STATUS_COUNTS_KEY, StaleWrite, SyncLink
from momentsync.tenants import TargetSystem, Tenant, TenantStatus

NOW = datetime.now(UTC)
OUTCOMES = ["synced", "unchanged", "waiting", "failed", "retrying", "deleted", "flagged"]


class CountingTable:
    """The boto3 Table, counting the calls that read many items."""

    def __init__(self, table) -> None:
        self._table = table
        self.reads_of_many = 0

    def __getattr__(self, name):
        if name in {"query", "scan"}:
            self.reads_of_many += 1
        return getattr(self._table, name)


def sync_state_table(stack):
    return stack.aws.resource("dynamodb").Table(stack.physical("SyncStateTable"))


def test_counts_follow_every_outcome_change_and_equal_a_recount(paused_stack, make_tenant):
    tenant_id = make_tenant().tenant.tenant_id
    state = DynamoSyncState(sync_state_table(paused_stack))
    draw = random.Random(16)  # noqa: S311 - a seeded workload, not a secret
    stored: dict[tuple[str, int], SyncLink] = {}
    for step in range(120):
        entity_type, moment_id = draw.choice(["customer", "project", "invoice"]), draw.randint(1, 15)
        outcome = draw.choice(OUTCOMES)
        at = NOW + timedelta(seconds=step)
        link = SyncLink(
            tenant_id=tenant_id,
            entity_type=entity_type,
            moment_id=moment_id,
            last_outcome=outcome,
            last_success_at=at if outcome in {"synced", "unchanged"} else None,
            last_error_at=at if outcome == "failed" else None,
            last_error=f"error {step}" if outcome == "failed" else None,
            source_modified_at=at,
        )
        state.save(link)
        stored[(entity_type, moment_id)] = link

    counted = state.status_counts(tenant_id)
    expected: dict[str, dict[str, int]] = {}
    for (entity_type, _), link in stored.items():
        by_outcome = expected.setdefault(entity_type, {})
        by_outcome[link.last_outcome] = by_outcome.get(link.last_outcome, 0) + 1
    assert {e: {o: n for o, n in c.items() if n} for e, c in counted.counts.items()} == expected
    recounted = state.recount(tenant_id)
    assert recounted.counts == expected
    assert state.status_counts(tenant_id).counts == expected  # the rebuilt item reads back the same
    # The status item is not a record: listing the tenant's links never shows it.
    assert all(link.record_key != STATUS_COUNTS_KEY for link in state.list(tenant_id))


def test_a_stale_write_counts_nothing(paused_stack, make_tenant):
    tenant_id = make_tenant().tenant.tenant_id
    state = DynamoSyncState(sync_state_table(paused_stack))
    newer = SyncLink(
        tenant_id=tenant_id,
        entity_type="customer",
        moment_id=1,
        last_outcome="synced",
        last_success_at=NOW,
        source_modified_at=NOW,
    )
    state.save(newer)
    with pytest.raises(StaleWrite):
        state.save(
            newer.model_copy(update={"last_outcome": "failed", "source_modified_at": NOW - timedelta(1)})
        )
    assert state.status_counts(tenant_id).counts == {"customer": {"synced": 1}}


def test_status_reads_one_item_per_tenant_not_its_records(paused_stack, make_tenant):
    tenant_id = make_tenant().tenant.tenant_id
    table = CountingTable(sync_state_table(paused_stack))
    state = DynamoSyncState(table)
    for moment_id in range(30):
        state.save(
            SyncLink(
                tenant_id=tenant_id,
                entity_type="invoice",
                moment_id=moment_id,
                last_outcome="synced",
                last_success_at=NOW,
            )
        )
    table.reads_of_many = 0
    parked = DynamoParkedEvents(
        paused_stack.aws.resource("dynamodb").Table(paused_stack.physical("ParkedEventsTable"))
    )
    tenant = paused_stack_tenant(paused_stack, tenant_id)
    report = tenant_report(tenant, sync_state=state, parked=parked)
    assert table.reads_of_many == 0
    assert report.synced == 30 and report.last_success_at is not None


def paused_stack_tenant(stack, tenant_id: str) -> Tenant:
    from momentsync.aws.tenants import DynamoTenantRepository

    return DynamoTenantRepository(
        stack.aws.resource("dynamodb").Table(stack.physical("TenantsTable"))
    ).require(tenant_id)


def tenant(target=TargetSystem.FIKEN, status=TenantStatus.ACTIVE, **fields) -> Tenant:
    return Tenant(
        tenant_id="acme",
        name="Acme",
        target=target,
        moment_company_code="acme",
        status=status,
        webhook_secret_hash="0" * 64,
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )


KEY = SecretStr("moment-key")
TOKENS = OAuthTokens(access_token=SecretStr("a"), refresh_token=SecretStr("r"), expires_at=NOW)


@pytest.mark.parametrize(
    ("the_tenant", "credentials", "expected"),
    [
        (tenant(), TenantCredentials(moment_api_key=KEY), "not_connected"),  # never connected
        (tenant(), TenantCredentials(), "not_connected"),  # no secret at all
        (tenant(), TenantCredentials(moment_api_key=KEY, fiken=TOKENS), "ok"),
        (tenant(), TenantCredentials(fiken=TOKENS), "moment_key_missing"),
        # Resumed after `disconnect` (tokens deleted, tenant active again): still not connected.
        (tenant(status_reason=None), TenantCredentials(moment_api_key=KEY), "not_connected"),
        (tenant(TargetSystem.SPAREBANK1), TenantCredentials(moment_api_key=KEY), "not_configured"),
        (
            tenant(TargetSystem.SPAREBANK1, sparebank1_bank="sb1", sparebank1_company_key="k"),
            TenantCredentials(moment_api_key=KEY),
            "ok",  # SpareBank 1 needs no per-tenant token: the app acts for every activated company
        ),
        (tenant(status=TenantStatus.PAUSED), TenantCredentials(moment_api_key=KEY, fiken=TOKENS), "paused"),
        (tenant(status=TenantStatus.NEEDS_REAUTH), TenantCredentials(), "needs_reauth"),
    ],
)
def test_connection_is_judged_from_credentials_and_target_settings(the_tenant, credentials, expected):
    assert connection_state(the_tenant, credentials) == expected


def test_status_command_judges_a_disconnected_and_resumed_tenant_not_ok(paused_stack, make_tenant):
    handle = make_tenant()
    store = SecretsManagerCredentialsStore(
        paused_stack.aws.client("secretsmanager"), paused_stack.environment["CREDENTIALS_SECRET_PREFIX"]
    )
    state = DynamoSyncState(sync_state_table(paused_stack))
    parked = DynamoParkedEvents(
        paused_stack.aws.resource("dynamodb").Table(paused_stack.physical("ParkedEventsTable"))
    )
    store.put(handle.tenant.tenant_id, TenantCredentials(moment_api_key=KEY, fiken=TOKENS))
    assert tenant_report(handle.tenant, sync_state=state, parked=parked, credentials=store).connection == "ok"
    store.put(handle.tenant.tenant_id, TenantCredentials(moment_api_key=KEY))  # what disconnect leaves
    assert tenant_report(handle.tenant, sync_state=state, parked=parked, credentials=store).connection == (
        "not_connected"
    )
