"""Moving tenants' credential secrets from the stage-named prefix to the stack-named one (#20).

Before, every stack of one stage in an account and region shared ``momentsync/{stage}/tenants/*``, so
two stacks read and overwrote each other's tenants' credentials. Stacks now name them
``momentsync/{stack}/tenants/*``. After upgrading, an operator copies each tenant's secret across once
(``momentsync tenants migrate-secrets --from-prefix momentsync/prod/tenants``); a secret already at the
new name is never overwritten, and the old ones are deleted only when asked (``--delete-old``).

A secret may appear at the new name before the copy: between the deploy and the migration the connect
flow stores a reconnect's Fiken tokens there (alone: it found no secret), or an operator sets the Moment
key. Such a secret is live but partial, so what the old secret holds and the new one lacks is filled in
(``merged``); nothing the new one holds is replaced. An old secret is deleted only when the new one
holds everything it held: one whose values differ (another Fiken grant) is kept for the operator.
Each tenant's copy is made under its token lease, as every other writer of the secret does.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass
from enum import StrEnum

from momentsync.connectors.fiken.tokens import token_lease_name
from momentsync.credentials import CredentialsNotFound, TenantCredentials
from momentsync.errors import TransientError
from momentsync.ports import CredentialsVault, LeaseLock, TenantRepository


class Migration(StrEnum):
    COPIED = "copied"
    ALREADY_THERE = "already_there"  # the new secret exists: it is the live one, never overwritten
    MERGED = "merged"  # the new secret existed without some of the old one's fields: those were added
    NOTHING_TO_COPY = "nothing_to_copy"
    BUSY = "busy"  # a token refresh or connect held the tenant's secret throughout: run the command again


@dataclass(frozen=True)
class MigratedSecret:
    tenant_id: str
    result: Migration
    old_deleted: bool


def migrate_tenant_secrets(
    *,
    tenants: TenantRepository,
    old: CredentialsVault,
    new: CredentialsVault,
    leases: LeaseLock,
    delete_old: bool = False,
) -> list[MigratedSecret]:
    if old.secret_name("x") == new.secret_name("x"):
        raise ValueError("the old and the new prefix are the same")
    results = []
    for tenant in tenants.list():
        # A read-modify-write of the live secret: under the token lease, or a processor's refresh
        # (its rotated, single-use refresh token) or a connect stored meanwhile is overwritten.
        with ExitStack() as held:
            try:
                held.enter_context(leases.hold(token_lease_name(tenant.tenant_id)))
            except TransientError:  # LeaseBusy: held elsewhere for the whole wait
                results.append(MigratedSecret(tenant.tenant_id, Migration.BUSY, False))
                continue
            results.append(_migrate_one(tenant.tenant_id, old, new, delete_old=delete_old))
    return results


def _migrate_one(
    tenant_id: str, old: CredentialsVault, new: CredentialsVault, *, delete_old: bool
) -> MigratedSecret:
    try:
        current = old.get(tenant_id, fresh=True)
    except CredentialsNotFound:
        return MigratedSecret(tenant_id, Migration.NOTHING_TO_COPY, False)
    try:
        live = new.get(tenant_id, fresh=True)
    except CredentialsNotFound:
        new.put(tenant_id, current)
        live, result = current, Migration.COPIED
    else:
        missing = {
            name: getattr(current, name)
            for name in type(current).model_fields
            if getattr(live, name) is None and getattr(current, name) is not None
        }
        result = Migration.ALREADY_THERE
        if missing:
            live = live.model_copy(update=missing)
            new.put(tenant_id, live)
            result = Migration.MERGED
    deleted = False
    if delete_old and _holds_everything_of(live, current):
        old.delete(tenant_id)
        deleted = True
    return MigratedSecret(tenant_id, result, deleted)


def _holds_everything_of(live: TenantCredentials, old: TenantCredentials) -> bool:
    """Deleting ``old`` loses nothing: every field it holds, ``live`` holds with the same value."""
    mine, theirs = json.loads(live.to_secret_string()), json.loads(old.to_secret_string())
    return all(mine.get(name) == value for name, value in theirs.items())
