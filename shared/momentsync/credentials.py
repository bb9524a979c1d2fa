"""Per-tenant credentials in Secrets Manager: one secret per tenant, ``{prefix}/{tenant_id}``.

Holds the Moment API key and the target system's OAuth tokens. Reads are cached in memory for a
short time; every write updates the cache (Powertools' ``set_secret`` does not, see docs/reference/aws.md
§1.5),
and ``fresh=True`` bypasses it, as a token refresh under a lock must.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr


class OAuthTokens(BaseModel):
    model_config = ConfigDict(extra="ignore")

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_at: datetime


class PendingFikenGrant(BaseModel):
    """Tokens of a connect that waits for the user's company choice: never used to sync."""

    model_config = ConfigDict(extra="ignore")

    tokens: OAuthTokens
    # SHA-256 of the choice token that may turn these into the tenant's tokens.
    choice_digest: str


class TenantCredentials(BaseModel):
    model_config = ConfigDict(extra="ignore")

    moment_api_key: SecretStr | None = None
    fiken: OAuthTokens | None = None
    fiken_pending: PendingFikenGrant | None = None

    def to_secret_string(self) -> str:
        def reveal(value: Any) -> Any:
            if isinstance(value, SecretStr):
                return value.get_secret_value()
            if isinstance(value, dict):
                return {k: reveal(v) for k, v in value.items()}
            return value

        return json.dumps(reveal(self.model_dump(mode="python", exclude_none=True)), default=str)


class CredentialsNotFound(LookupError):
    pass


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
