"""Attack on issue 18 (cached data going stale): an operator rotates a tenant's Moment API key while a
warm processor still holds the old one in its credentials cache (60 s)."""

from __future__ import annotations

import uuid

from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TenantStatus


def test_a_rotated_moment_key_is_read_again_on_a_401_instead_of_pausing_the_tenant(pipeline):
    credentials = SecretsManagerCredentialsStore(
        pipeline.stack.aws.client("secretsmanager"), pipeline.stack.environment["CREDENTIALS_SECRET_PREFIX"]
    )
    first = pipeline.driver.create_customer(name="Før rotasjon AS")
    pipeline.settle()
    assert pipeline.last("customer", first.id).outcome is Outcome.SYNCED  # the processor's cache is warm

    # The operator's rotation (`tenants settings --moment-api-key-stdin`), then the old key is deleted in
    # Moment: within the processor's cache age.
    old_key = credentials.get(pipeline.tenant_id, fresh=True).moment_api_key
    assert old_key is not None
    new_key = f"moment-{uuid.uuid4().hex}"
    pipeline.moment.add_api_key(pipeline.company, new_key)
    stored = credentials.get(pipeline.tenant_id, fresh=True)
    credentials.put(pipeline.tenant_id, stored.model_copy(update={"moment_api_key": new_key}))
    pipeline.moment.revoke_api_key(old_key.get_secret_value())

    second = pipeline.driver.create_customer(name="Etter rotasjon AS")
    pipeline.settle()

    assert pipeline.last("customer", second.id).outcome is Outcome.SYNCED
    tenant = pipeline.tenant()
    assert tenant.status is TenantStatus.ACTIVE
    assert "moment_key_invalid" not in tenant.problems
    assert pipeline.parked() == []
