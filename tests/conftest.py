"""Shared fixtures: one local stack (moto server + template resources + handlers) per test worker."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulators.fiken import FikenEmulator
from emulators.moment.emulator import MomentEmulator
from local.stack import LocalStack, LocalStackConfig
from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.onboarding import add_tenant
from momentsync.tenants import TargetSystem, Tenant, TenantStatus

# The test pyramid, by folder: `make unit` runs tests/unit minus whatever is marked integration here.
_TESTS = Path(__file__).parent
_MARKS_BY_FOLDER = {
    "integration": ("integration",),
    "chaos": ("integration", "chaos", "slow"),
    "browser": ("integration", "browser"),
    "emulators": ("emulators",),
}
# Fixtures that start the local stack or an emulator's HTTP server: a test using one is an integration
# test wherever it lives (e.g. tests/unit/test_leases.py runs on the stack's DynamoDB).
_INTEGRATION_FIXTURES = {"stack", "paused_stack", "make_tenant", "fiken_emulator", "moment_emulator"}
# The longest runs (--durations): still in `make test` and CI, kept out of `make unit`, skipped by
# `-m "not slow"` for a quicker pass. The burst-check module floods moto's DynamoDB with 420 writes
# (8 s of CPU, half of what the rest of tests/unit costs).
_SLOW_MODULES = {
    "tests/integration/test_pipeline_fuzz.py",
    "tests/security/test_webhook_fuzz.py",
    "tests/integration/test_make_run_restart.py",
    "tests/unit/test_not_found_burst_attack.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        relative = Path(str(item.path)).resolve().relative_to(_TESTS.resolve().parent)
        marks = set(_MARKS_BY_FOLDER.get(relative.parts[1], ()))
        if _INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            marks.add("integration")
        if relative.as_posix() in _SLOW_MODULES:
            marks.add("slow")
        for mark in sorted(marks - {m.name for m in item.iter_markers()}):
            item.add_marker(getattr(pytest.mark, mark))


FIKEN_CLIENT_ID = "momentsync-test-app"
# One app for every test: the stack has one FikenAppSecret, so tests that run their own Fiken
# emulator register these same credentials there instead of replacing the stack's secret.
FIKEN_CLIENT_SECRET = "test-app-secret-not-a-real-one"


@pytest.fixture(scope="session")
def fiken_emulator() -> Iterator[FikenEmulator]:
    """Fiken as the processor meets it: rate rule on (1 in flight, 4/s), contract checked."""
    emulator = FikenEmulator()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def moment_emulator() -> Iterator[MomentEmulator]:
    emulator = MomentEmulator()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def stack(fiken_emulator: FikenEmulator, moment_emulator: MomentEmulator) -> Iterator[LocalStack]:
    parameters = {
        "MomentApiBaseUrl": moment_emulator.api_base_url,
        "FikenApiBaseUrl": fiken_emulator.api_base_url,
        "FikenOAuthBaseUrl": fiken_emulator.base_url,
    }
    local = LocalStack(
        LocalStackConfig(visibility_timeout=1, poller_concurrency=2, parameters=parameters)
    ).start()
    fiken_emulator.register_client(
        FIKEN_CLIENT_ID, FIKEN_CLIENT_SECRET, [f"{local.webhook_base_url}/oauth/fiken/callback"]
    )
    local.aws.client("secretsmanager").put_secret_value(  # type: ignore[union-attr]
        SecretId=local.environment["FIKEN_APP_SECRET_ID"],
        SecretString=json.dumps({"client_id": FIKEN_CLIENT_ID, "client_secret": FIKEN_CLIENT_SECRET}),
    )
    yield local
    local.stop()


@pytest.fixture
def paused_stack(stack: LocalStack) -> Iterator[LocalStack]:
    """The stack with its event source mapping off, so a test can read what the webhook queued."""
    with stack.processing_paused():
        yield stack


@dataclass
class TenantHandle:
    tenant: Tenant
    webhook_url: str
    secret: str


@pytest.fixture
def make_tenant(stack: LocalStack):
    def make(status: TenantStatus = TenantStatus.ACTIVE, **overrides) -> TenantHandle:
        assert stack.aws
        tenants = DynamoTenantRepository(
            stack.aws.resource("dynamodb").Table(stack.environment["TENANTS_TABLE"])
        )
        credentials = SecretsManagerCredentialsStore(
            stack.aws.client("secretsmanager"), stack.environment["CREDENTIALS_SECRET_PREFIX"]
        )
        options = {
            "tenant_id": f"t-{uuid.uuid4().hex[:10]}",
            "name": "Acme AS",
            "target": TargetSystem.FIKEN,
            "moment_company_code": "acme",
            "moment_api_key": "moment-key-" + uuid.uuid4().hex,
            "fiken_company_slug": "acme-as",
            **overrides,
        }
        tenant, url = add_tenant(
            tenants=tenants, credentials=credentials, webhook_base_url=stack.webhook_base_url, **options
        )
        if status is not TenantStatus.ACTIVE:
            tenant.status = status
            tenant = tenants.save(tenant)
        return TenantHandle(tenant=tenant, webhook_url=url.url, secret=url.url.rsplit("/", 1)[1])

    return make
