"""A tenant connected on both sides, for tests that drive events through the whole local pipeline:
Moment emulator -> webhook (local HTTP API) -> SQS FIFO (moto) -> processor -> Fiken emulator.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from emulators.fiken import FikenEmulator
from emulators.moment.emulator import MomentEmulator
from emulators.moment.webhook_driver import MomentWebhookDriver
from local.stack import LocalStack
from local.tenants import TenantFactory
from momentsync.aws.parking import DynamoParkedEvents
from momentsync.aws.sync_state import DynamoSyncState
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.connectors.fiken.pacing import DEFAULT_WINDOW_SECONDS
from momentsync.sync.sync_state import SyncLink
from momentsync.sync.transfer_log import TransferLogEntry
from momentsync.tenants import MappingSettings, Tenant
from tests.conftest import FIKEN_CLIENT_ID

# The SpareBank 1 fixtures are registered here, once: a session fixture imported into two test modules
# is two fixtures (two emulators, and the second overwrites the app's key in the stack's one secret).
from tests.integration.sparebank1_fixtures import (  # noqa: E402, F401 - fixtures, registered by import
    make_sb1_pipeline,
    sparebank1_app,
    sparebank1_emulator,
)


@dataclass
class Pipeline:
    stack: LocalStack
    fiken: FikenEmulator
    moment: MomentEmulator
    tenant_id: str
    slug: str
    company: str
    driver: MomentWebhookDriver
    _request_mark: int = field(default=0)

    # ------------------------------------------------------------------ driving
    def settle(self, timeout: float = 60) -> None:
        assert self.stack.wait_until_idle(timeout), "the queue did not drain"

    def settle_and_idle_fiken(self, timeout: float = 60) -> None:
        """Settles, then lets Fiken's window pass: what an operator's command (backfill, deep check) finds
        on an idle tenant. Its Fiken client paces itself and knows nothing of the processor's starts of
        the last second (docs/fiken-rate-limit.md, "one execution environment"); a test that counts its
        reads must not have one retried after Fiken's rule refused it."""
        self.settle(timeout)
        time.sleep(DEFAULT_WINDOW_SECONDS)

    def mark(self) -> None:
        """Start counting Fiken requests from here."""
        self._request_mark = len(self.fiken.request_log.entries())

    def fiken_requests(self) -> list[Any]:
        prefix = f"/api/v2/companies/{self.slug}"
        return [
            e for e in self.fiken.request_log.entries()[self._request_mark :] if e.path.startswith(prefix)
        ]

    # ------------------------------------------------------------------ inspecting our state
    def _table(self, variable: str) -> Any:
        return self.stack.aws.resource("dynamodb").Table(self.stack.environment[variable])  # type: ignore[union-attr]

    @property
    def tenants(self) -> DynamoTenantRepository:
        return DynamoTenantRepository(self._table("TENANTS_TABLE"))

    def tenant(self) -> Tenant:
        return self.tenants.require(self.tenant_id)

    def update_tenant(self, **changes: Any) -> Tenant:
        tenant = self.tenant()
        for key, value in changes.items():
            setattr(tenant, key, value)
        return self.tenants.save(tenant)

    def link(self, entity_type: str, moment_id: int) -> SyncLink | None:
        return DynamoSyncState(self._table("SYNC_STATE_TABLE")).get(self.tenant_id, entity_type, moment_id)

    def log(self) -> list[TransferLogEntry]:
        entries = DynamoTransferLog(self._table("TRANSFER_LOG_TABLE"), timedelta(days=1)).query(
            self.tenant_id, limit=1000, newest_first=False
        )
        return entries

    def last(self, entity_type: str, entity_id: int) -> TransferLogEntry:
        return [e for e in self.log() if e.entity_type == entity_type and e.entity_id == entity_id][-1]

    def parked(self) -> list:
        return DynamoParkedEvents(self._table("PARKED_EVENTS_TABLE")).list(self.tenant_id)

    def dead_letters(self) -> list[dict[str, Any]]:
        """Peeks the DLQ for this tenant's messages (received, then made visible again)."""
        sqs = self.stack.aws.client("sqs")  # type: ignore[union-attr]
        url = self.stack.physical("DeadLetterQueue")
        seen: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=5,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            seen.extend(batch)
        for message in seen:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return [m for m in seen if m["Attributes"]["MessageGroupId"] == self.tenant_id]

    # ------------------------------------------------------------------ inspecting Fiken
    def contacts(self) -> list[dict[str, Any]]:
        return self.fiken.contacts(self.slug)

    def projects(self) -> list[dict[str, Any]]:
        return self.fiken.projects(self.slug)

    def invoices(self) -> list[dict[str, Any]]:
        return self.fiken.invoices(self.slug)


@pytest.fixture
def make_pipeline(stack, fiken_emulator, moment_emulator):
    factory = TenantFactory(stack, fiken_emulator, moment_emulator, FIKEN_CLIENT_ID)
    drivers: list[MomentWebhookDriver] = []

    def make(*, mapping: MappingSettings | None = None, **company_knobs: Any) -> Pipeline:
        tag = uuid.uuid4().hex[:10]
        tenant = factory.connected(
            f"t-{tag}", f"co-{tag}", f"m{tag}", name="Acme AS", mapping=mapping, **company_knobs
        )
        driver = MomentWebhookDriver(moment_emulator, tenant.company, tenant.webhook_url, raise_on_error=True)
        drivers.append(driver)
        return Pipeline(
            stack, fiken_emulator, moment_emulator, tenant.tenant_id, tenant.slug, tenant.company, driver
        )

    yield make
    for driver in drivers:
        driver.close()


@pytest.fixture
def pipeline(make_pipeline) -> Pipeline:
    return make_pipeline()


def body(entry: Any) -> dict[str, Any]:
    return entry.body if isinstance(entry.body, dict) else json.loads(entry.body or "{}")
