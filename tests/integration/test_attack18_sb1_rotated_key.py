"""Attack on issue 18 (a cache holding an old credential): the processor caches the SpareBank 1 app's
key (its certificate key, 15 min). After an operator rotates it (the new certificate registered at the
bank, the old one removed, the stack's secret updated), a token minted in that window must not pause
every SpareBank 1 tenant that needed one and mail its people about a certificate."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TenantStatus
from tests.integration.sparebank1_fixtures import SpareBank1App
from tests.integration.test_sparebank1_pipeline import new_customer


def register(pipeline, app: SpareBank1App) -> None:
    public = app.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # The same app with a new certificate: its activations for companies stay (the marketplace's).
    activated = set(pipeline.sb1.identity.apps[app.client_id].companies)
    pipeline.sb1.register_app(app.client_id, public)
    pipeline.sb1.identity.apps[app.client_id].companies.update(activated)
    pipeline.stack.aws.client("secretsmanager").put_secret_value(
        SecretId=pipeline.stack.environment["SPAREBANK1_APP_SECRET_ID"], SecretString=app.secret_json()
    )


def test_a_rotated_sparebank1_app_key_is_read_again_when_the_bank_refuses_the_cached_one(
    make_sb1_pipeline, sparebank1_app
):
    pipeline = make_sb1_pipeline()
    first = new_customer(pipeline, "100201", name="Før nøkkelbytte AS")
    pipeline.settle()
    assert pipeline.last("customer", first.id).outcome is Outcome.SYNCED  # key cached, token minted

    rotated = SpareBank1App(
        sparebank1_app.client_id, rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    try:
        register(pipeline, rotated)
        pipeline.sb1.expire_tokens()  # the next call needs a new token, minted with the app's key
        second = new_customer(pipeline, "100202", name="Etter nøkkelbytte AS")
        pipeline.settle()
        assert pipeline.last("customer", second.id).outcome is Outcome.SYNCED
        tenant = pipeline.tenant()
        assert tenant.status is TenantStatus.ACTIVE and tenant.problems == {}
    finally:
        register(pipeline, sparebank1_app)
        pipeline.sb1.expire_tokens()
