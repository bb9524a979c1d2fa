"""Per-tenant credentials in Secrets Manager: one secret per tenant, ``{prefix}/{tenant_id}``.

Holds the Moment API key and the target system's OAuth tokens. Reads are cached in memory for a
short time; every write updates the cache (Powertools' ``set_secret`` does not, see docs/reference/aws.md
§1.5), and ``fresh=True`` bypasses it, as a token refresh under a lock must.
"""

from __future__ import annotations

import json
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
