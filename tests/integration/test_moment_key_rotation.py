"""A Moment API key rotated while a processor keeps the old one in memory (its tenant secrets are cached
for CREDENTIALS_MAX_AGE_SECONDS, wiring/tenant_sessions.py): Moment's 401 makes the processor re-read the
secret and try once more with the new key, instead of flagging the tenant and parking its events."""

from __future__ import annotations

import uuid

from pydantic import SecretStr

from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.tenants import TenantStatus


def store(pipeline) -> SecretsManagerCredentialsStore:
    """The operator's view of the secrets (another process than the processor: no shared cache)."""
    return SecretsManagerCredentialsStore(
        pipeline.stack.aws.client("secretsmanager"), pipeline.stack.environment["CREDENTIALS_SECRET_PREFIX"]
    )


def rotate_moment_key(pipeline, *, store_new_key: bool) -> None:
    secrets = store(pipeline)
    old = secrets.get(pipeline.tenant_id, fresh=True)
    if store_new_key:
        new_key = f"moment-{uuid.uuid4().hex}"
        pipeline.moment.add_api_key(pipeline.company, new_key)
        secrets.put(pipeline.tenant_id, old.model_copy(update={"moment_api_key": SecretStr(new_key)}))
    pipeline.moment.revoke_api_key(old.moment_api_key.get_secret_value())


def test_a_key_rotated_while_the_processor_kept_the_old_one_is_picked_up_without_parking(pipeline):
    customer = pipeline.driver.create_customer(name="Fjordlys AS")
    pipeline.settle()  # the processor now holds the first key in memory
    assert pipeline.last("customer", customer.id).outcome.value == "synced"

    rotate_moment_key(pipeline, store_new_key=True)
    pipeline.driver.update_customer(customer.id, name="Fjordlys Rådgivning AS")
    pipeline.settle()

    assert pipeline.last("customer", customer.id).outcome.value == "synced"
    assert pipeline.tenant().status is TenantStatus.ACTIVE
    assert pipeline.parked() == []
    assert [c["name"] for c in pipeline.contacts()] == ["Fjordlys Rådgivning AS"]


def test_a_key_revoked_with_no_new_one_stored_still_flags_the_tenant_and_parks(pipeline):
    customer = pipeline.driver.create_customer(name="Fjordlys AS")
    pipeline.settle()

    rotate_moment_key(pipeline, store_new_key=False)
    pipeline.driver.update_customer(customer.id, name="Fjordlys Rådgivning AS")
    pipeline.settle()

    assert pipeline.last("customer", customer.id).outcome.value == "parked"
    assert "moment_key_invalid" in pipeline.tenant().problems
    assert [c["name"] for c in pipeline.contacts()] == ["Fjordlys AS"]
