"""Tenant credentials in Secrets Manager: one secret per tenant under the stack's prefix."""

from __future__ import annotations

import threading
import time
from typing import Any

from momentsync.credentials import CredentialsNotFound, TenantCredentials


class SecretsManagerCredentialsStore:
    def __init__(self, client: Any, prefix: str, *, max_age_seconds: float = 60.0) -> None:
        self._client = client
        self._prefix = prefix.rstrip("/")
        self._max_age = max_age_seconds
        self._cache: dict[str, tuple[float, TenantCredentials]] = {}
        self._lock = threading.Lock()

    def secret_name(self, tenant_id: str) -> str:
        return f"{self._prefix}/{tenant_id}"

    def get(self, tenant_id: str, *, fresh: bool = False) -> TenantCredentials:
        with self._lock:
            cached = self._cache.get(tenant_id)
        if cached and not fresh and time.monotonic() - cached[0] < self._max_age:
            return cached[1]
        try:
            raw = self._client.get_secret_value(SecretId=self.secret_name(tenant_id))["SecretString"]
        except self._client.exceptions.ResourceNotFoundException as exc:
            raise CredentialsNotFound(tenant_id) from exc
        credentials = TenantCredentials.model_validate_json(raw)
        self._remember(tenant_id, credentials)
        return credentials

    def put(self, tenant_id: str, credentials: TenantCredentials) -> None:
        value = credentials.to_secret_string()
        try:
            self._client.put_secret_value(SecretId=self.secret_name(tenant_id), SecretString=value)
        except self._client.exceptions.ResourceNotFoundException:
            self._client.create_secret(
                Name=self.secret_name(tenant_id),
                SecretString=value,
                Description=f"momentsync credentials of tenant {tenant_id}",
            )
        self._remember(tenant_id, credentials)

    def delete(self, tenant_id: str) -> None:
        self._client.delete_secret(SecretId=self.secret_name(tenant_id), ForceDeleteWithoutRecovery=True)
        with self._lock:
            self._cache.pop(tenant_id, None)

    def _remember(self, tenant_id: str, credentials: TenantCredentials) -> None:
        with self._lock:
            self._cache[tenant_id] = (time.monotonic(), credentials)
