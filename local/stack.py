"""The whole pipeline: embedded AWS (moto), the HTTP API, the functions, the poller.

Used by ``make run`` / ``make demo``, the integration tests, the benchmarks and the chaos suite.
With ``workers`` set, every invocation runs in a pool of worker processes (``local.workers``: one
invocation per process at a time, like Lambda's execution environments); with ``workers=0`` the
functions run on the servers' threads in this process, which the tests that patch a function's
module need.
Function environments come from template.yaml with intrinsics resolved against the local resources;
parameters (base URLs of Moment and Fiken) can be overridden to point at the emulators.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.aws import EmbeddedAws, create_resources, start_embedded_aws
from local.event_source import FifoEventSourceMapping
from local.http_api import LocalHttpApi, Route
from local.lambda_runtime import LocalLambdaContext, load_handler, module_name
from local.persistence import Snapshot, restore_aws
from local.template import NO_VALUE, ROOT, FunctionSpec, LocalNames, Resolver, functions, load_template
from local.workers import LambdaWorkers

STATE_FILE = ROOT / ".local-stack.json"


@dataclass
class LocalStackConfig:
    stack_name: str = "momentsync-local"
    region: str = "eu-north-1"
    parameters: dict[str, str] = field(default_factory=dict)
    # Seconds before a failed event is retried (deployed: ten times the processor timeout).
    visibility_timeout: int = 5
    poller_concurrency: int = 4
    http_port: int = 0
    # Where the CLI finds the running local stack (None: don't write).
    state_file: Path | None = None
    # Overrides the functions' POWERTOOLS_LOG_LEVEL (make run keeps the terminal readable).
    log_level: str | None = None
    # Worker processes the invocations run in (0: in this process, on the servers' threads).
    workers: int = 0
    # Start every worker before the stack serves (a benchmark's timing); otherwise a worker starts
    # when an invocation finds none idle, a cold start as in Lambda, and is reused from then on.
    warm_workers: bool = False
    # Dotted ``module:factory`` probes built in every worker (local.workers.WorkerProbe).
    worker_probes: tuple[str, ...] = ()
    # moto in a process of its own (bench, chaos): its CPU off this interpreter; no snapshots then.
    aws_process: bool = False
    # Environment variables set over the template's for every function (a benchmark's settings).
    function_environment: dict[str, str] = field(default_factory=dict)


class LocalStack:
    def __init__(self, config: LocalStackConfig | None = None) -> None:
        self.config = config or LocalStackConfig()
        self.names = LocalNames(
            stack_name=self.config.stack_name,
            region=self.config.region,
            # The local stack talks to emulators on loopback: their bank is a URL, not a key of the table.
            # The template's Stage has no default (a deploy must name it); the local stack is "dev".
            parameters={"SpareBank1CustomBankUrls": "allowed", "Stage": "dev", **self.config.parameters},
        )
        self.aws: EmbeddedAws | None = None
        self.http_api: LocalHttpApi | None = None
        self.pollers: list[FifoEventSourceMapping] = []
        self.environment: dict[str, str] = {}
        self.handlers: dict[str, Any] = {}
        self.workers: LambdaWorkers | None = None
        self._specs: dict[str, FunctionSpec] = {}
        self._webhook_base_url = ""

    # ------------------------------------------------------------------ lifecycle
    def start(self, restore: Snapshot | None = None) -> LocalStack:
        """Starts everything; with ``restore``, moto's state is the snapshot's instead of fresh resources."""
        if restore is not None and self.config.aws_process:
            raise ValueError("a snapshot is restored into an in-process moto (aws_process=False)")
        self.aws = start_embedded_aws(self.config.region, own_process=self.config.aws_process)
        template = load_template()
        if restore is None:
            resolver = create_resources(
                self.aws, self.names, visibility_timeout=self.config.visibility_timeout
            )
        else:
            restore_aws(restore)
            self.names.physical.update(restore.physical)
            self.names.attributes.update(restore.attributes)
            resolver = Resolver(template, self.names)  # current parameters (emulator URLs), saved names
        self._specs = {spec.logical_id: spec for spec in functions(template)}
        for spec in self._specs.values():
            resolved = {key: resolver.resolve(value) for key, value in spec.environment.items()}
            env = {key: str(value) for key, value in resolved.items() if value is not NO_VALUE}
            clash = {k for k in env if k in self.environment and self.environment[k] != env[k]}
            if clash:
                raise RuntimeError(f"functions disagree on environment variables {sorted(clash)}")
            self.environment.update(env)
        self.environment.update(self.config.function_environment)
        # One process hosts every function, so they share one environment (checked above for clashes).
        os.environ.update(self.environment)
        # momentsync.observability was imported before this environment existed (tests, the CLI): its
        # metrics take the stack's namespace now, as a Lambda cold start reads it (per stack, #20).
        # Only a stack whose functions run in this process: a worker stack's functions read it in their own
        # processes, and must not rename the metrics of another stack this process hosts (tests run both).
        if not self.config.workers:
            from momentsync import observability

            observability.metrics.namespace = self.environment.get(
                "POWERTOOLS_METRICS_NAMESPACE", observability.NAMESPACE
            )
        if self.config.log_level:
            os.environ["POWERTOOLS_LOG_LEVEL"] = self.config.log_level
            # EMF metric blobs go to stdout like logs; a quiet terminal wants neither.
            os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        if self.config.workers:
            self.workers = LambdaWorkers(
                list(self._specs.values()),
                dict(os.environ),
                self.config.workers,
                probes=self.config.worker_probes,
            )
            if self.config.warm_workers:
                self.workers.warm()
        for logical_id, spec in self._specs.items():
            self.handlers[logical_id] = self._dispatcher(logical_id) if self.workers else load_handler(spec)

        routes = [
            Route(method, path, self._http_integration(logical_id))
            for logical_id, spec in self._specs.items()
            for method, path in spec.http_routes
        ]
        self.http_api = LocalHttpApi(routes, port=self.config.http_port)
        self.http_api.start()
        self._webhook_base_url = self.http_api.base_url

        sqs = self.aws.client("sqs")
        for logical_id, spec in self._specs.items():
            for source in spec.sqs_sources:
                queue_logical_id = source["Queue"]["Fn::GetAtt"][0]
                poller = FifoEventSourceMapping(
                    sqs,
                    self.names.physical[queue_logical_id],
                    self.names.attributes[(queue_logical_id, "Arn")],
                    self._sqs_integration(logical_id),
                    region=self.config.region,
                    batch_size=int(source.get("BatchSize", 10)),
                    concurrency=self.config.poller_concurrency,
                    visibility_timeout=self.config.visibility_timeout,
                )
                poller.start()
                self.pollers.append(poller)
        if self.config.state_file:
            self.config.state_file.write_text(json.dumps(self.describe(), indent=2))
        return self

    def quiesce(self) -> None:
        """Stops taking webhooks, then lets the batches in flight finish (a drain before a snapshot)."""
        if self.http_api:
            self.http_api.stop()
            self.http_api = None
        for poller in self.pollers:
            poller.stop()

    def stop(self) -> None:
        self.quiesce()
        if self.workers:
            self.workers.shutdown()
            self.workers = None
        if self.aws:
            self.aws.stop()
        if self.config.state_file and self.config.state_file.exists():
            self.config.state_file.unlink()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ integrations
    def _timeout(self, logical_id: str) -> float:
        template = load_template()
        props = template["Resources"][logical_id]["Properties"]
        timeout = props.get("Timeout") or template["Globals"]["Function"].get("Timeout", 3)
        if isinstance(timeout, dict):
            timeout = (
                self.names.parameters.get(timeout["Ref"]) or template["Parameters"][timeout["Ref"]]["Default"]
            )
        return float(timeout)

    def _dispatcher(self, logical_id: str):
        """The handler as the integrations call it: the invocation runs in a worker process."""
        workers = self.workers
        assert workers

        def invoke(event: dict[str, Any], context: LocalLambdaContext) -> Any:
            return workers.invoke(logical_id, event, context.timeout_seconds)

        return invoke

    def _http_integration(self, logical_id: str):
        timeout = self._timeout(logical_id)

        def integrate(event: dict[str, Any], _route_key: str) -> dict[str, Any]:
            handler = self.handlers[logical_id]
            return handler(event, LocalLambdaContext(function_name=logical_id, timeout_seconds=timeout))

        return integrate

    def _sqs_integration(self, logical_id: str):
        timeout = self._timeout(logical_id)

        def integrate(event: dict[str, Any]) -> dict[str, Any] | None:
            handler = self.handlers[logical_id]
            return handler(event, LocalLambdaContext(function_name=logical_id, timeout_seconds=timeout))

        return integrate

    @contextmanager
    def processing_paused(self, *, purge: bool = True) -> Iterator[LocalStack]:
        """Disables the event source mapping (and empties the queues) for tests that read the queue."""
        for poller in self.pollers:
            poller.stop()
        if purge:
            self.purge_queues()
        try:
            yield self
        finally:
            if purge:
                self.purge_queues()
            for poller in self.pollers:
                poller.start()

    def purge_queues(self) -> None:
        """Empties both queues by receiving and deleting (PurgeQueue is allowed once a minute).

        Messages still invisible after a failed delivery are waited for (up to the visibility
        timeout), so nothing from before reappears afterwards.
        """
        assert self.aws
        sqs = self.aws.client("sqs")
        deadline = time.monotonic() + self.config.visibility_timeout + 2
        for logical_id in ("EventQueue", "DeadLetterQueue"):
            url = self.physical(logical_id)
            while True:
                if not self._drain_visible(sqs, url):
                    in_flight = int(
                        sqs.get_queue_attributes(
                            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
                        )["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
                    )
                    if not in_flight or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)

    @staticmethod
    def _drain_visible(sqs: Any, url: str) -> int:
        drained = 0
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
                "Messages", []
            )
            if not messages:
                return drained
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            drained += len(messages)

    # ------------------------------------------------------------------ inspection
    @property
    def webhook_base_url(self) -> str:
        assert self._webhook_base_url, "the stack has not been started"
        return self._webhook_base_url

    def function_module(self, logical_id: str):
        """The imported handler module of a function (tests patch its adapters)."""
        if self.workers:
            raise RuntimeError(
                f"{logical_id} runs in worker processes: a patch here would not reach it (use workers=0)"
            )
        return sys.modules[module_name(self._specs[logical_id])]

    def physical(self, logical_id: str) -> str:
        return self.names.physical[logical_id]

    def describe(self) -> dict[str, Any]:
        assert self.aws
        return {
            "stack_name": self.config.stack_name,
            "region": self.config.region,
            "aws_endpoint_url": self.aws.endpoint_url,
            "webhook_base_url": self.webhook_base_url,
            "resources": dict(self.names.physical),
            "environment": dict(self.environment),
        }

    def queue_depth(self, logical_id: str) -> int:
        assert self.aws
        attributes = self.aws.client("sqs").get_queue_attributes(
            QueueUrl=self.physical(logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def wait_until_idle(
        self, timeout: float = 60.0, *, queue: str = "EventQueue", settle: float = 0.3
    ) -> bool:
        """True once the queue is empty and no poller is invoking, twice in a row ``settle`` apart."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            idle = self.queue_depth(queue) == 0 and not any(p.busy for p in self.pollers)
            if idle:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return True
            else:
                quiet_since = None
            time.sleep(0.05)
        return False
