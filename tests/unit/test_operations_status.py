"""Status figures from sync links and tenants, without AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from momentsync.operations.status import connection_state, entity_status
from momentsync.sync.sync_state import SyncLink
from momentsync.tenants import TargetSystem, Tenant, TenantStatus

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def tenant(status=TenantStatus.ACTIVE, problems=None) -> Tenant:
    return Tenant(
        tenant_id="acme",
        name="Acme",
        target=TargetSystem.FIKEN,
        moment_company_code="acme",
        status=status,
        problems=problems or {},
        webhook_secret_hash="0" * 64,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("status", "problems", "expected"),
    [
        (TenantStatus.ACTIVE, {}, "ok"),
        (TenantStatus.PAUSED, {}, "paused"),
        (TenantStatus.PAUSED, {"module_missing": "no project module"}, "module_missing"),
        (TenantStatus.NEEDS_REAUTH, {}, "needs_reauth"),
        (TenantStatus.DISABLED, {"module_missing": "x"}, "disabled"),
    ],
)
def test_connection_state(status, problems, expected):
    assert connection_state(tenant(status, problems)) == expected


def test_counts_and_last_success_kept_apart_from_last_error():
    def link(moment_id, outcome, success=None, error_at=None, error=None):
        return SyncLink(
            tenant_id="acme",
            entity_type="invoice",
            moment_id=moment_id,
            last_outcome=outcome,
            last_success_at=success,
            last_error_at=error_at,
            last_error=error,
        )

    status = entity_status(
        "invoice",
        [
            # Failed once, synced later: counts as synced, and its old error is still the latest error.
            link(1, "synced", success=NOW, error_at=NOW - timedelta(hours=1), error="Fiken 503"),
            link(2, "unchanged", success=NOW - timedelta(days=1)),
            link(3, "waiting"),
            link(4, "failed", error_at=NOW - timedelta(hours=2), error="VAT code missing"),
            link(5, "deleted", success=NOW - timedelta(days=2)),
        ],
    )
    assert (status.synced, status.waiting, status.failed, status.other) == (2, 1, 1, 1)
    assert status.last_success_at == NOW
    assert (status.last_error_at, status.last_error, status.last_error_moment_id) == (
        NOW - timedelta(hours=1),
        "Fiken 503",
        1,
    )
    assert status.by_outcome == {"synced": 1, "unchanged": 1, "waiting": 1, "failed": 1, "deleted": 1}
