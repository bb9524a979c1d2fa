"""A tenant that transfers to SpareBank 1 Regnskap, for tests driving the whole local pipeline:
Moment emulator -> webhook (local HTTP API) -> SQS FIFO (moto) -> processor -> SpareBank 1 emulator.

The tenant's ``sparebank1_bank`` is the emulator's base URL (the hosts table's escape hatch for a local
host), so no stack parameter is needed; the app's client id and key go into the stack's one secret.
Import the fixtures into a test module: ``from tests.integration.sparebank1_fixtures import *``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulators.moment.emulator import MomentEmulator
from emulators.moment.webhook_driver import MomentWebhookDriver
from emulators.sparebank1 import SpareBank1Emulator
from local.stack import LocalStack
from momentsync.aws.parking import DynamoParkedEvents
from momentsync.aws.sync_state import DynamoSyncState
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.sync.sync_state import SyncLink
from momentsync.sync.transfer_log import TransferLogEntry
from momentsync.tenants import TargetSystem, Tenant

SB1_CLIENT_ID = "momentsync-sb1-test-app"
SALES_ACCOUNTS = (
    (3020, "Salgsinntekt, avgiftspliktig, tjenester", "3"),
    (3030, "Salgsinntekt, avgiftspliktig, middels sats", "31"),
    (3050, "Salgsinntekt, avgiftspliktig, lav sats", "33"),
)


@dataclass(frozen=True)
class SpareBank1App:
    client_id: str
    private_key: rsa.RSAPrivateKey

    def secret_json(self) -> str:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return json.dumps({"client_id": self.client_id, "private_key_pem": pem})


@pytest.fixture(scope="session")
def sparebank1_emulator() -> Iterator[SpareBank1Emulator]:
    emulator = SpareBank1Emulator(today=date(2025, 3, 10))
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def sparebank1_app(stack: LocalStack, sparebank1_emulator: SpareBank1Emulator) -> SpareBank1App:
    """The app registered at the emulator, its key in the stack's SpareBank1AppSecret."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    sparebank1_emulator.register_app(SB1_CLIENT_ID, public_pem)
    app = SpareBank1App(SB1_CLIENT_ID, key)
    stack.aws.client("secretsmanager").put_secret_value(  # type: ignore[union-attr]
        SecretId=stack.environment["SPAREBANK1_APP_SECRET_ID"], SecretString=app.secret_json()
    )
    return app


@dataclass
class SpareBank1Pipeline:
    stack: LocalStack
    sb1: SpareBank1Emulator
    moment: MomentEmulator
    tenant_id: str
    company_key: str
    company: str
    driver: MomentWebhookDriver
    _mark: int = field(default=0)

    def settle(self, timeout: float = 30) -> None:
        assert self.stack.wait_until_idle(timeout), "the queue did not drain"

    def mark(self) -> None:
        self._mark = len(self.sb1.request_log.entries())

    def requests(self) -> list[Any]:
        """Business calls for this tenant's company since ``mark`` (token and discovery calls excluded)."""
        return [
            e
            for e in self.sb1.request_log.entries()[self._mark :]
            if e.path.startswith("/api/biz/")
            and {k.lower(): v for k, v in e.headers.items()}.get("companykey", "").lower()
            == self.company_key.lower()
        ]

    def records(self, route: str, expand: str | None = None) -> list[dict[str, Any]]:
        return self.sb1.records(self.company_key, route, expand)

    def _table(self, variable: str) -> Any:
        return self.stack.aws.resource("dynamodb").Table(self.stack.environment[variable])  # type: ignore[union-attr]

    def tenant(self) -> Tenant:
        return DynamoTenantRepository(self._table("TENANTS_TABLE")).require(self.tenant_id)

    def link(self, entity_type: str, moment_id: int) -> SyncLink | None:
        return DynamoSyncState(self._table("SYNC_STATE_TABLE")).get(self.tenant_id, entity_type, moment_id)

    def log(self) -> list[TransferLogEntry]:
        from datetime import timedelta

        return DynamoTransferLog(self._table("TRANSFER_LOG_TABLE"), timedelta(days=1)).query(
            self.tenant_id, limit=1000, newest_first=False
        )

    def last(self, entity_type: str, entity_id: int) -> TransferLogEntry:
        return [e for e in self.log() if e.entity_type == entity_type and e.entity_id == entity_id][-1]

    def parked(self) -> list:
        return DynamoParkedEvents(self._table("PARKED_EVENTS_TABLE")).list(self.tenant_id)


@pytest.fixture
def make_sb1_pipeline(stack, sparebank1_emulator, sparebank1_app, moment_emulator, make_tenant):
    drivers: list[MomentWebhookDriver] = []

    def make(*, activate: bool = True, bank: str | None = None) -> SpareBank1Pipeline:
        company = sparebank1_emulator.add_company(f"Regnskap {uuid.uuid4().hex[:6]} AS")
        # Moment's test chart (emulators.moment.fixtures.ACCOUNTS) beyond the emulator's seeded subset.
        for number, name, vat_code in SALES_ACCOUNTS:
            sparebank1_emulator.seed_account(company.key, number, name, vat_code)
        if activate:
            sparebank1_emulator.activate_app_for_company(sparebank1_app.client_id, company.key)
        moment_company = f"m{uuid.uuid4().hex[:10]}"
        moment_key = "moment-" + uuid.uuid4().hex
        moment_emulator.add_api_key(moment_company, moment_key)
        handle = make_tenant(
            target=TargetSystem.SPAREBANK1,
            fiken_company_slug=None,
            sparebank1_bank=bank or sparebank1_emulator.base_url,
            sparebank1_company_key=company.key,
            moment_company_code=moment_company,
            moment_api_key=moment_key,
        )
        driver = MomentWebhookDriver(moment_emulator, moment_company, handle.webhook_url, raise_on_error=True)
        drivers.append(driver)
        return SpareBank1Pipeline(
            stack,
            sparebank1_emulator,
            moment_emulator,
            handle.tenant.tenant_id,
            company.key,
            moment_company,
            driver,
        )

    yield make
    for driver in drivers:
        driver.close()
