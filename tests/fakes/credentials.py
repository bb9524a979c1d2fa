"""Per-tenant credentials in memory: ``CredentialsNotFound`` for a tenant without a secret, as
Secrets Manager answers; stored as the secret string, so what is not serialisable is not kept."""

from __future__ import annotations

from momentsync.credentials import CredentialsNotFound, TenantCredentials


class InMemoryCredentials:
    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.writes: list[str] = []  # tenant ids written, in order

    def get(self, tenant_id: str, *, fresh: bool = False) -> TenantCredentials:
        if tenant_id not in self.secrets:
            raise CredentialsNotFound(tenant_id)
        return TenantCredentials.model_validate_json(self.secrets[tenant_id])

    def put(self, tenant_id: str, credentials: TenantCredentials) -> None:
        self.secrets[tenant_id] = credentials.to_secret_string()
        self.writes.append(tenant_id)

    def secret_name(self, tenant_id: str) -> str:
        return f"momentsync/test/tenants/{tenant_id}"

    def delete(self, tenant_id: str) -> None:
        self.secrets.pop(tenant_id, None)
