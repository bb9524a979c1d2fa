"""Whether a tenant's connection works, judged from its stored status, credentials and target settings.

Used by `momentsync status` and by the tenant's self-service page (so it lives in the layer).
"""

from __future__ import annotations

from momentsync.credentials import CredentialsNotFound, TenantCredentials
from momentsync.ports import CredentialsSource
from momentsync.tenants import TargetSystem, Tenant, TenantStatus

__all__ = ["CredentialsSource", "connection_state", "stored_credentials"]


def connection_state(tenant: Tenant, credentials: TenantCredentials | None = None) -> str:
    """disabled / needs_reauth / <problem> (e.g. module_missing) / not_configured / not_connected /
    moment_key_missing / paused / ok.

    With ``credentials`` (what the tenant's secret holds; empty when it has none) the answer is the
    truth about the connection, not only the stored status: a tenant never connected to Fiken, a
    SpareBank 1 tenant without its bank or company key, and one resumed after `disconnect` are not ok.
    Without them (``tenants list``) only the stored status is judged.
    """
    if tenant.status is TenantStatus.DISABLED:
        return "disabled"
    if tenant.status is TenantStatus.NEEDS_REAUTH:
        return "needs_reauth"
    if tenant.problems:
        return sorted(tenant.problems)[0]
    if tenant.target is TargetSystem.SPAREBANK1 and not (
        tenant.sparebank1_bank and tenant.sparebank1_company_key
    ):
        return "not_configured"
    if credentials is not None:
        if tenant.target is TargetSystem.FIKEN and (
            credentials.fiken is None or credentials.fiken.refresh_token is None
        ):
            return "not_connected"
        if credentials.moment_api_key is None:
            return "moment_key_missing"
    if tenant.status is TenantStatus.PAUSED:
        return "paused"
    return "ok"


def stored_credentials(source: CredentialsSource, tenant_id: str) -> TenantCredentials:
    """The tenant's credentials, empty when its secret does not exist (never connected, or deleted)."""
    try:
        return source.get(tenant_id, fresh=True)
    except CredentialsNotFound:
        return TenantCredentials()
