"""Moving tenants' credential secrets from the stage-named prefix to the stack-named one (#20).

Before, every stack of one stage in an account and region shared ``momentsync/{stage}/tenants/*``, so
two stacks read and overwrote each other's tenants' credentials. Stacks now name them
``momentsync/{stack}/tenants/*``. After upgrading, an operator copies each tenant's secret across once
(``momentsync tenants migrate-secrets --from-prefix momentsync/prod/tenants``); a secret already at the
new name is never overwritten, and the old ones are deleted only when asked (``--delete-old``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from momentsync.credentials import CredentialsNotFound, SecretsManagerCredentialsStore
from momentsync.tenants import TenantRepository


class Migration(StrEnum):
    COPIED = "copied"
    ALREADY_THERE = "already_there"  # the new secret exists: it is the live one, never overwritten
    NOTHING_TO_COPY = "nothing_to_copy"


@dataclass(frozen=True)
class MigratedSecret:
    tenant_id: str
    result: Migration
    old_deleted: bool


def migrate_tenant_secrets(
    *,
    tenants: TenantRepository,
    old: SecretsManagerCredentialsStore,
    new: SecretsManagerCredentialsStore,
    delete_old: bool = False,
) -> list[MigratedSecret]:
    if old.secret_name("x") == new.secret_name("x"):
        raise ValueError("the old and the new prefix are the same")
    results = []
    for tenant in tenants.list():
        tenant_id = tenant.tenant_id
        try:
            current = old.get(tenant_id, fresh=True)
        except CredentialsNotFound:
            results.append(MigratedSecret(tenant_id, Migration.NOTHING_TO_COPY, False))
            continue
        try:
            new.get(tenant_id, fresh=True)
            result = Migration.ALREADY_THERE
        except CredentialsNotFound:
            new.put(tenant_id, current)
            result = Migration.COPIED
        deleted = False
        if delete_old:
            old.delete(tenant_id)
            deleted = True
        results.append(MigratedSecret(tenant_id, result, deleted))
    return results
