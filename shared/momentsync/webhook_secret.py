"""Webhook URL secrets: Moment's webhooks are unsigned, so the configured URL carries the credential.

Only a hash is stored. The secret is 256 random bits, so a fast hash is enough (no password KDF
needed); binding the hash to the tenant id stops one tenant's hash from verifying another's URL. The
HMAC key below is a public constant (domain separation, not a pepper): the secret's entropy is what
protects a leaked tenants table.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_CONTEXT = b"momentsync-webhook-secret-v1"
# Verifying against this when the tenant does not exist keeps timing equal for both 404 causes.
_DECOY_HASH = "0" * 64


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_webhook_secret(tenant_id: str, secret: str) -> str:
    return hmac.new(_CONTEXT, f"{tenant_id}\x00{secret}".encode(), hashlib.sha256).hexdigest()


def verify_webhook_secret(tenant_id: str, secret: str, stored_hash: str | None) -> bool:
    candidate = hash_webhook_secret(tenant_id, secret)
    return hmac.compare_digest(candidate, stored_hash or _DECOY_HASH) and stored_hash is not None
