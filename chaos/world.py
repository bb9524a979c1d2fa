"""The system under chaos: the local stack, the Fiken and Moment emulators, and the people around it.

``ChaosWorld`` wraps a running local stack and its two emulators (the test session's, or its own
when run by ``make chaos``) and plays the humans: Moment sending webhooks, the tenant's Fiken user
reconnecting in a browser, and the operator using the ``momentsync`` CLI (``--local``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from boto3.dynamodb.conditions import Key
from pydantic import SecretStr

from emulators.common import RequestLog
from emulators.fiken import FikenEmulator
from emulators.moment.emulator import MomentEmulator
from emulators.moment.webhook_driver import WEBHOOK_HEADERS
from local.connect_browser import open_connect_link
from local.stack import LocalStack, LocalStackConfig
from local.tenants import ConnectedTenant, TenantFactory
from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.aws.queue import SqsEventQueue
from momentsync.aws.sweep_store import SweepStore
from momentsync.aws.sync_state import DynamoSyncState
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.clock import utcnow
from momentsync.credentials import OAuthTokens, TenantCredentials
from momentsync.onboarding import add_tenant
from momentsync.reconcile.run import ReconcileRun
from momentsync.reconcile.sweep import TenantSweep
from momentsync.sync.transfer_log import TransferLogEntry
from momentsync.tenants import TargetSystem, Tenant

ROOT = Path(__file__).resolve().parent.parent
_PYTHONPATH = os.pathsep.join([str(ROOT / "shared"), str(ROOT)])
CLIENT_ID = "momentsync-chaos"
CLIENT_SECRET = "chaos-client-secret"  # noqa: S105 - the emulator's own, not a real credential


@dataclass(frozen=True)
class Accepted:
    """One webhook the API accepted (202 queued): an event that must end applied."""

    tenant_id: str
    event_id: str
    kind: str
    record_id: int
    trouble: str | None
    accepted_at: float = field(default_factory=time.time)


class ChaosWorld:
    def __init__(self, stack: LocalStack, fiken: FikenEmulator, moment: MomentEmulator) -> None:
        assert stack.aws
        self.stack, self.fiken, self.moment = stack, fiken, moment
        self.factory = TenantFactory(stack, fiken, moment, self._app_secret()["client_id"])
        self.tenant_repo = DynamoTenantRepository(self.table("TENANTS_TABLE"))
        self.http = httpx.Client(timeout=30)
        self._state_dir = tempfile.TemporaryDirectory(prefix="momentsync-chaos-")
        self.state_file = Path(self._state_dir.name) / "local-stack.json"
        self.state_file.write_text(json.dumps(stack.describe()))

    def close(self) -> None:
        self.http.close()
        self._state_dir.cleanup()

    @property
    def client_secret(self) -> str:
        """The app's Fiken client secret, as the stack holds it (the log scan looks for it)."""
        return self._app_secret()["client_secret"]

    def _app_secret(self) -> dict[str, str]:
        """The Fiken app the stack is registered as (its FikenAppSecret)."""
        secret = self.stack.aws.client("secretsmanager").get_secret_value(  # type: ignore[union-attr]
            SecretId=self.stack.environment["FIKEN_APP_SECRET_ID"]
        )
        return json.loads(secret["SecretString"])

    def table(self, variable: str) -> Any:
        return self.stack.aws.resource("dynamodb").Table(self.stack.environment[variable])  # type: ignore[union-attr]

    # ------------------------------------------------------------------ Moment
    def post(self, tenant: ConnectedTenant, payload: dict[str, Any]) -> str:
        """Sends one webhook as Moment would; returns the event id it was accepted under."""
        response = self.http.post(
            tenant.webhook_url, content=json.dumps(payload).encode(), headers=WEBHOOK_HEADERS
        )
        if response.status_code != 202:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:200]}")
        return response.json()["eventId"]

    # ------------------------------------------------------------------ the tenant's Fiken user
    def reconnect(self, tenant_id: str) -> str:
        """The operator sends a connect link; the user opens it and approves in Fiken. Returns the page."""
        link = self.cli("tenants", "connect-url", tenant_id)["url"]
        self.fiken.authorize_decision = "approve"
        self.fiken.set_consent(companies=None)
        with httpx.Client(follow_redirects=True, timeout=30) as browser:
            page = open_connect_link(browser, link)
        if page.status_code != 200 or "Connected to Fiken" not in page.text:
            raise RuntimeError(f"reconnecting {tenant_id} failed: HTTP {page.status_code}")
        return page.text

    # ------------------------------------------------------------------ the operator
    def cli(self, *args: str) -> Any:
        """``momentsync --local --json ARGS`` against this stack, in its own process as an operator runs
        it (in-process, the functions' metrics printed meanwhile would mix into its output)."""
        result = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-m", "momentsync.cli.main", "--local", "--json", *args],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "MOMENTSYNC_LOCAL_STATE": str(self.state_file), "PYTHONPATH": _PYTHONPATH},
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"momentsync {' '.join(args[:2])} exited {result.returncode}: {result.stderr[-500:]}"
            )
        return json.loads(result.stdout)

    # ------------------------------------------------------------------ our state
    def tenant(self, tenant_id: str) -> Tenant:
        return self.tenant_repo.require(tenant_id)

    def transfer_log(self, tenant_id: str) -> list[TransferLogEntry]:
        return DynamoTransferLog(self.table("TRANSFER_LOG_TABLE"), timedelta(days=1)).query(
            tenant_id, limit=1_000_000, newest_first=False
        )

    def reconciler(self) -> ReconcileRun:
        """The scheduled sweep (ReconcileFunction), wired to this stack."""
        env, aws = self.stack.environment, self.stack.aws
        table = self.table("SYNC_STATE_TABLE")
        return ReconcileRun(
            tenants=self.tenant_repo,
            sweep=TenantSweep(
                sync_state=DynamoSyncState(table),
                sweeps=SweepStore(table),
                queue=SqsEventQueue(aws.client("sqs"), env["EVENT_QUEUE_URL"]),  # type: ignore[union-attr]
            ),
            credentials=SecretsManagerCredentialsStore(
                aws.client("secretsmanager"),  # type: ignore[union-attr]
                env["CREDENTIALS_SECRET_PREFIX"],
            ),
            moment_base_url=env["MOMENT_API_BASE_URL"],
        )

    def wipe_sync_state(self, tenant_id: str) -> int:
        """What a restore to an empty table leaves a tenant: no links, no sweep watermark."""
        table = self.table("SYNC_STATE_TABLE")
        keys, kwargs = [], {"KeyConditionExpression": Key("tenant_id").eq(tenant_id)}
        while True:
            page = table.query(**kwargs)
            keys += [{"tenant_id": i["tenant_id"], "record_key": i["record_key"]} for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        with table.batch_writer() as batch:
            for key in keys:
                batch.delete_item(Key=key)
        return len(keys)

    def remove_and_add_again(self, tenant: ConnectedTenant) -> tuple[ConnectedTenant, int]:
        """An operator removes the tenant (its record, secrets and sync state go; Fiken keeps the
        books) and adds it again with the same Moment and Fiken companies: a new webhook URL, new
        tokens from a new consent. Returns the tenant as re-added and the links it lost."""
        self.table("TENANTS_TABLE").delete_item(Key={"tenant_id": tenant.tenant_id})
        self.factory.credentials.delete(tenant.tenant_id)
        lost = self.wipe_sync_state(tenant.tenant_id)
        grant = self.fiken.issue_tokens([tenant.slug], client_id=self.factory.client_id)
        _added, url = add_tenant(
            tenants=self.tenant_repo,
            credentials=self.factory.credentials,
            webhook_base_url=self.stack.webhook_base_url,
            tenant_id=tenant.tenant_id,
            name=f"{tenant.tenant_id} again",
            target=TargetSystem.FIKEN,
            moment_company_code=tenant.company,
            moment_api_key=tenant.moment_api_key,
            fiken_company_slug=tenant.slug,
            organization_number=self.fiken.company(tenant.slug).organization_number,
        )
        self.factory.credentials.put(
            tenant.tenant_id,
            TenantCredentials(
                moment_api_key=SecretStr(tenant.moment_api_key),
                fiken=OAuthTokens(
                    access_token=SecretStr(grant["access_token"]),
                    refresh_token=SecretStr(grant["refresh_token"]),
                    expires_at=utcnow() + timedelta(seconds=int(grant["expires_in"])),
                ),
            ),
        )
        return replace(tenant, webhook_url=url.url), lost

    def idle(self, timeout: float) -> bool:
        return self.stack.wait_until_idle(timeout, settle=0.5)


@contextmanager
def own_world(*, seed: int, pollers: int) -> Iterator[ChaosWorld]:
    """A fresh stack and emulators for ``make chaos`` (the tests use the session's)."""
    fiken = FikenEmulator(seed=seed, rate_limit=True)
    moment = MomentEmulator(seed=seed)
    # The default logs keep 10,000 requests; a full run makes several times that.
    fiken.server.request_log = RequestLog(max_entries=2_000_000)
    moment.server.request_log = RequestLog(max_entries=2_000_000)
    fiken.start()
    moment.start()
    stack = LocalStack(
        LocalStackConfig(
            stack_name="momentsync-chaos",
            parameters={
                "MomentApiBaseUrl": moment.api_base_url,
                "FikenApiBaseUrl": fiken.api_base_url,
                "FikenOAuthBaseUrl": fiken.base_url,
            },
            visibility_timeout=5,
            poller_concurrency=pollers,
        )
    )
    try:
        stack.start()
        assert stack.aws
        fiken.register_client(CLIENT_ID, CLIENT_SECRET, [f"{stack.webhook_base_url}/oauth/fiken/callback"])
        stack.aws.client("secretsmanager").put_secret_value(
            SecretId=stack.environment["FIKEN_APP_SECRET_ID"],
            SecretString=json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
        )
        world = ChaosWorld(stack, fiken, moment)
        try:
            yield world
        finally:
            world.close()
    finally:
        stack.stop()
        moment.stop()
        fiken.stop()
