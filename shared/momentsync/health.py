"""Tenant health, checked on a schedule (functions/health): what no per-request alarm can see.

- ``needs_reauth``: the tenant's consent is gone; its events park until someone reconnects.
- ``parked_too_long``: its oldest parked event has waited longer than the limit (paused and forgotten,
  or a problem nobody fixed).
- ``quiet``: an active tenant with no transfer for days (its webhook URL broken in Moment, or the
  customer left): judged from the newest transfer-log entry, one read per tenant.

Each check is a metric (how many tenants fail it; 0 included, so an alarm also sees recovery) for
the stack's CloudWatch alarms, and one message per tenant and incident on the operator topic, naming
the tenant and the remedy. Webhook 404 bursts (a tenant with a broken URL, or someone probing) are an
alarm on the webhook's own ``WebhookRejected`` metric, in template.yaml.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from momentsync.observability import logger
from momentsync.ports import HealthAlerts, LastTransfer, NotificationThrottle, OldestParked
from momentsync.tenants import Tenant, TenantStatus

CHECKS = ("needs_reauth", "parked_too_long", "quiet")


@dataclass(frozen=True)
class Finding:
    tenant_id: str
    check: str
    detail: str
    remedy: str


def check_tenant(
    tenant: Tenant,
    *,
    parked: OldestParked,
    transfers: LastTransfer,
    now: datetime,
    parked_limit: timedelta,
    quiet_after: timedelta,
) -> list[Finding]:
    if tenant.status is TenantStatus.DISABLED:
        return []  # refused on purpose: nothing to watch
    found = []
    if tenant.status is TenantStatus.NEEDS_REAUTH:
        found.append(
            Finding(
                tenant.tenant_id,
                "needs_reauth",
                tenant.status_reason or "the connection to the accounting system must be renewed",
                f"send a new link: momentsync tenants connect-url {tenant.tenant_id}",
            )
        )
    oldest = parked.oldest_received_at(tenant.tenant_id)
    if oldest is not None and now - oldest > parked_limit:
        minutes = int((now - oldest).total_seconds() // 60)
        found.append(
            Finding(
                tenant.tenant_id,
                "parked_too_long",
                f"its oldest parked event has waited {minutes} minutes ({tenant.status.value}: "
                f"{tenant.status_reason or 'no reason recorded'})",
                f"fix the cause, then momentsync tenants resume {tenant.tenant_id} (or reconnect)",
            )
        )
    if tenant.status is TenantStatus.ACTIVE:
        last = transfers.last_logged_at(tenant.tenant_id) or tenant.created_at
        if now - last > quiet_after:
            found.append(
                Finding(
                    tenant.tenant_id,
                    "quiet",
                    f"no transfer since {last:%Y-%m-%d %H:%M} UTC",
                    "check the webhook URL in Moment (Setup > Settings > Integrations); "
                    f"momentsync tenants rotate-secret {tenant.tenant_id} gives a new one",
                )
            )
    return found


@dataclass
class HealthReport:
    findings: list[Finding]
    alerted: list[Finding]

    def counts(self) -> dict[str, int]:
        return {check: sum(1 for f in self.findings if f.check == check) for check in CHECKS}


def check_health(
    tenants: Iterable[Tenant],
    *,
    parked: OldestParked,
    transfers: LastTransfer,
    throttle: NotificationThrottle,
    alerts: HealthAlerts,
    now: datetime,
    parked_limit: timedelta,
    quiet_after: timedelta,
) -> HealthReport:
    """Checks every tenant; alerts once per tenant and incident (a check that clears re-arms it)."""
    findings: list[Finding] = []
    alerted: list[Finding] = []
    for tenant in tenants:
        failing = check_tenant(
            tenant,
            parked=parked,
            transfers=transfers,
            now=now,
            parked_limit=parked_limit,
            quiet_after=quiet_after,
        )
        findings += failing
        failing_checks = {finding.check for finding in failing}
        for check in CHECKS:
            # Cleared: the next incident alerts again. Read first: a delete per tenant and check every
            # 15 minutes would cost more than the whole check.
            if check not in failing_checks and throttle.held(tenant.tenant_id, f"health#{check}"):
                throttle.release(tenant.tenant_id, f"health#{check}")
        for finding in failing:
            if throttle.claim(tenant.tenant_id, f"health#{finding.check}", kind=f"health_{finding.check}"):
                _announce(alerts, finding)
                alerted.append(finding)
    return HealthReport(findings=findings, alerted=alerted)


def _announce(alerts: HealthAlerts, finding: Finding) -> None:
    logger.warning(
        "tenant unhealthy",
        extra={"tenant_id": finding.tenant_id, "check": finding.check, "detail": finding.detail},
    )
    alerts.tenant_unhealthy(
        tenant_id=finding.tenant_id, check=finding.check, detail=finding.detail, remedy=finding.remedy
    )
