"""The benchmark rig: Fiken and Moment emulators, the local stack wired to them, instrumentation.

Tenants are connected the way the integration tests do it (tests/integration/conftest.py): the
Fiken emulator issues the tokens directly and they are stored in the tenant's secret, so no
browser OAuth round trip is timed. All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import random
import time
from datetime import timedelta
from typing import Any

import httpx

from bench.instrument import (
    WORKER_PROBE,
    AwsCallCounter,
    HandlerTimer,
    ProcessingRecorder,
    acting_as,
    measure_record_cpu,
)
from emulators.common import RequestLog
from emulators.fiken import FikenEmulator
from emulators.moment.emulator import MomentEmulator
from local.stack import LocalStack, LocalStackConfig
from local.tenants import ConnectedTenant, TenantFactory
from local.workers import WorkerInvocation
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.observability import logger

CLIENT_ID = "momentsync-bench"
CLIENT_SECRET = "bench-client-secret"  # noqa: S105 - the emulator's own, not a real credential


BenchTenant = ConnectedTenant


class BenchEnv:
    def __init__(
        self,
        *,
        seed: int,
        poller_concurrency: int = 2,
        idle_poll_seconds: float = 0.2,
        workers: int = 0,
        tenant_concurrency: int | None = None,
        stack_name: str = "momentsync-bench",
    ) -> None:
        """``workers``: run the functions in that many worker processes (0: in this process), moto in a
        process of its own too. ``tenant_concurrency``: PROCESSOR_TENANT_CONCURRENCY for the functions
        (None: the template's); a worker stack's is fixed when its workers start."""
        self.seed = seed
        self.idle_poll_seconds = idle_poll_seconds
        self.random = random.Random(seed)
        # Registered before the stack creates any boto3 client, so every client carries the hooks.
        self.aws_calls = AwsCallCounter()
        # Moment's own limit (30/s per key in the emulator) never binds here: one key per tenant.
        self.fiken = FikenEmulator(seed=seed, rate_limit=True)
        self.moment = MomentEmulator(seed=seed)
        # The default log keeps 10,000 requests; the many-tenant part makes several times that.
        self.fiken.server.request_log = RequestLog(max_entries=2_000_000)
        self.moment.server.request_log = RequestLog(max_entries=2_000_000)
        self.fiken.start()
        self.moment.start()
        self.stack = LocalStack(
            LocalStackConfig(
                stack_name=stack_name,
                parameters={
                    "MomentApiBaseUrl": self.moment.api_base_url,
                    "FikenApiBaseUrl": self.fiken.api_base_url,
                    "FikenOAuthBaseUrl": self.fiken.base_url,
                },
                # Long enough that no healthy batch is redelivered while a busy machine processes it.
                visibility_timeout=60,
                poller_concurrency=poller_concurrency,
                log_level="WARNING",
                workers=workers,
                worker_probes=(WORKER_PROBE,) if workers else (),
                # With workers, moto gets its own process too: the stack's interpreter is one core.
                aws_process=bool(workers),
                warm_workers=True,  # no cold start inside a timed part
                function_environment=(
                    {"PROCESSOR_TENANT_CONCURRENCY": str(tenant_concurrency)} if tenant_concurrency else {}
                ),
            )
        ).start()
        assert self.stack.aws
        self.aws = self.stack.aws
        # The functions share one Logger object, created when the bench first imported it (before the
        # stack set POWERTOOLS_LOG_LEVEL): quiet it as the stack's log_level asks.
        logger.setLevel("WARNING")
        self.worker_log_bytes = 0  # what the workers logged at the deployed level
        self.timer = HandlerTimer(self.stack, on_worker_invocation=self._worker_invocation)
        self.set_poller_concurrency(poller_concurrency)
        if self.stack.workers:
            self.recorder = ProcessingRecorder(None)  # filled from the workers' probes
        else:
            self.recorder = ProcessingRecorder(self.stack.function_module("ProcessorFunction"))
            measure_record_cpu(self.stack.function_module("ProcessorFunction"))
        self.http = httpx.Client(timeout=30)
        with acting_as("setup"):
            self.fiken.register_client(
                CLIENT_ID, CLIENT_SECRET, [f"{self.stack.webhook_base_url}/oauth/fiken/callback"]
            )
            self.aws.client("secretsmanager").put_secret_value(
                SecretId=self.stack.environment["FIKEN_APP_SECRET_ID"],
                SecretString=json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
            )
            self._factory = TenantFactory(self.stack, self.fiken, self.moment, CLIENT_ID)
        self._count = 0

    def _worker_invocation(self, invocation: WorkerInvocation) -> None:
        """Folds what a worker measured into the rig's own counts, as if it had run here."""
        measured = invocation.probes.get(WORKER_PROBE)
        if not measured:
            return
        self.aws_calls.add(measured["aws"])
        self.recorder.extend(measured["processed"])
        self.worker_log_bytes += measured["log_bytes"]

    def table(self, variable: str) -> Any:
        return self.aws.resource("dynamodb").Table(self.stack.environment[variable])

    def stop(self) -> None:
        self.http.close()
        self.stack.stop()
        self.moment.stop()
        self.fiken.stop()

    # ------------------------------------------------------------------ tenants
    def add_tenant(self) -> BenchTenant:
        """A tenant connected on both sides (tokens issued by the Fiken emulator, as the tests do)."""
        self._count += 1
        tag = f"{self._count:05d}{self.random.randrange(16**6):06x}"
        with acting_as("setup"):
            return self._factory.connected(f"b-{tag}", f"co-{tag}", f"m{tag}", name=f"Bench {tag} AS")

    # ------------------------------------------------------------------ driving and inspecting
    def post(self, tenant: BenchTenant, payload: dict[str, Any]) -> str:
        """Sends one webhook as Moment would; returns the event id the webhook accepted it under."""
        response = self.http.post(
            tenant.webhook_url,
            content=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code != 202:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:200]}")
        return response.json()["eventId"]

    def settle(self, timeout: float = 120) -> None:
        if not self.stack.wait_until_idle(timeout, settle=0.1):
            raise RuntimeError("the queue did not drain")

    def fiken_requests(self, tenant: BenchTenant, since: int = 0) -> list[Any]:
        prefix = f"/api/v2/companies/{tenant.slug}"
        return [e for e in self.fiken.request_log.entries()[since:] if e.path.startswith(prefix)]

    def moment_requests(self, tenant: BenchTenant, since: int = 0) -> list[Any]:
        return [e for e in self.moment.request_log.entries()[since:] if f"/{tenant.company}/" in e.path]

    def transfer_log(self, tenant: BenchTenant) -> list[Any]:
        return DynamoTransferLog(self.table("TRANSFER_LOG_TABLE"), timedelta(days=1)).query(
            tenant.tenant_id, limit=100_000, newest_first=False
        )

    def tenant_concurrency(self) -> int:
        """Tenants of one batch the processor runs at once (PROCESSOR_TENANT_CONCURRENCY)."""
        if self.stack.workers:
            return int(self.stack.environment["PROCESSOR_TENANT_CONCURRENCY"])
        return int(self.stack.function_module("ProcessorFunction").tenant_concurrency)

    def set_tenant_concurrency(self, workers: int) -> None:
        """Tenants of one batch processed at once (PROCESSOR_TENANT_CONCURRENCY); 1 = one after another,
        the processor before issue 18. In this process only: a worker stack's is set when it starts."""
        self.stack.function_module("ProcessorFunction").tenant_concurrency = workers

    def set_poller_concurrency(self, concurrency: int) -> None:
        """Restarts the local event source mapping with ``concurrency`` pollers.

        The stand-in fixes its poller count when built; parts 1-3 keep it small because idle
        pollers short-poll moto and would eat the CPU the timed code needs.
        """
        for poller in self.stack.pollers:
            poller.stop()
            # Lambda's pollers long-poll; many idle short polls would starve the timed code of CPU.
            poller.reconfigure(concurrency=concurrency, idle_seconds=self.idle_poll_seconds)
            poller.start()


def wait_for(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
