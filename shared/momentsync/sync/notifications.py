"""Telling a tenant's people that something needs them: a failed record, a lost connection."""

from __future__ import annotations

from momentsync.observability import logger
from momentsync.tenants import Tenant


class LogNotifier:
    """Writes the notification to the log only (the local stack; deployments without e-mail set up)."""

    def notify(self, tenant: Tenant, *, kind: str, subject: str, message: str, dedupe_key: str) -> None:
        logger.warning(
            "tenant notification",
            extra={
                "tenant_id": tenant.tenant_id,
                "kind": kind,
                "subject": subject,
                "notification": message,
                "dedupe_key": dedupe_key,
                "recipients": len(tenant.notification_emails),
            },
        )
