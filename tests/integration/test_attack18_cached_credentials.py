"""Attack on issue 18 (cached data going stale): an operator rotates a tenant's Moment API key while a
warm processor still holds the old one in its credentials cache (60 s)."""

from __future__ import annotations

import json
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


def test_a_rotated_fiken_app_secret_is_read_again_when_fiken_refuses_the_cached_one(pipeline):
    """The operator rotates the Fiken app's client secret (Fiken's developer page, then the stack's app
    secret) while warm processors hold the old one (5 min cache): a token refresh in that window must not
    dead-letter the tenant's events as permanent failures."""
    from tests.conftest import FIKEN_CLIENT_ID, FIKEN_CLIENT_SECRET

    stack, fiken = pipeline.stack, pipeline.fiken
    secrets = stack.aws.client("secretsmanager")
    secret_id = stack.environment["FIKEN_APP_SECRET_ID"]
    redirect = [f"{stack.webhook_base_url}/oauth/fiken/callback"]

    def app_secret(value: str) -> None:
        fiken.register_client(FIKEN_CLIENT_ID, value, redirect)
        secrets.put_secret_value(
            SecretId=secret_id,
            SecretString=json.dumps({"client_id": FIKEN_CLIENT_ID, "client_secret": value}),
        )

    fiken.expire_access_tokens()  # the first event refreshes: the processor now holds the app secret
    first = pipeline.driver.create_customer(name="Før nøkkelbytte AS")
    pipeline.settle()
    assert pipeline.last("customer", first.id).outcome is Outcome.SYNCED
    try:
        app_secret(f"rotated-{uuid.uuid4().hex}")
        fiken.expire_access_tokens()
        second = pipeline.driver.create_customer(name="Etter nøkkelbytte AS")
        pipeline.settle()
        assert pipeline.last("customer", second.id).outcome is Outcome.SYNCED
        assert pipeline.dead_letters() == []
    finally:
        app_secret(FIKEN_CLIENT_SECRET)
