"""The local stack runs each invocation in a worker process, like Lambda's execution environments (issue 18
item 4): the functions never run in the stack's process, warm workers are reused, a tenant's order holds
across workers, and a worker that dies fails its invocation only (the pool is replaced).

Its own stack (the session's runs in-process: other tests patch its function modules), on the session's
emulators; the process environment the stack rewrites is put back afterwards.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from emulators.moment.webhook_driver import MomentWebhookDriver
from local import persistence
from local.stack import LocalStack, LocalStackConfig
from local.tenants import TenantFactory
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.sync.transfer_log import Outcome

FIKEN_CLIENT_ID = "momentsync-test-app"
WORKERS = 2


@pytest.fixture(scope="module")
def worker_stack(fiken_emulator, moment_emulator) -> Iterator[LocalStack]:
    saved = dict(os.environ)
    stack = LocalStack(
        LocalStackConfig(
            stack_name="momentsync-workers-test",
            visibility_timeout=1,
            poller_concurrency=2,
            workers=WORKERS,
            aws_process=True,  # moto in a process of its own too, as the benchmark runs it
            parameters={
                "MomentApiBaseUrl": moment_emulator.api_base_url,
                "FikenApiBaseUrl": fiken_emulator.api_base_url,
                "FikenOAuthBaseUrl": fiken_emulator.base_url,
            },
        )
    )
    try:
        yield stack.start()
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)


def _transfer_log(stack: LocalStack, tenant_id: str):
    assert stack.aws
    table = stack.aws.resource("dynamodb").Table(stack.environment["TRANSFER_LOG_TABLE"])
    from datetime import timedelta

    return DynamoTransferLog(table, timedelta(days=1)).query(tenant_id, limit=1000, newest_first=False)


def test_a_tenants_events_run_in_warm_worker_processes_in_order(
    worker_stack, fiken_emulator, moment_emulator
):
    assert worker_stack.workers
    factory = TenantFactory(worker_stack, fiken_emulator, moment_emulator, FIKEN_CLIENT_ID)
    tenant = factory.connected("w-order", "co-w-order", "mworder", name="Worker Order AS")
    before = sum(worker_stack.workers.invocations_by_pid.values())
    with MomentWebhookDriver(
        moment_emulator, tenant.company, tenant.webhook_url, raise_on_error=True
    ) as driver:
        customers = [driver.create_customer(name=f"Kunde {n} AS") for n in range(8)]
    assert worker_stack.wait_until_idle(300)  # a loaded machine (load 40) needed more than 90 s

    entries = [e for e in _transfer_log(worker_stack, tenant.tenant_id) if e.entity_type == "customer"]
    assert [e.entity_id for e in entries] == [c.id for c in customers]
    assert {e.outcome for e in entries} == {Outcome.SYNCED}
    assert len(fiken_emulator.contacts("co-w-order")) == 8

    by_pid = worker_stack.workers.invocations_by_pid
    # Eight webhooks and at least one processor batch, none of them in this process, on at most
    # WORKERS warm processes (each reused, not one process per invocation).
    assert sum(by_pid.values()) - before >= 9
    assert os.getpid() not in by_pid
    assert 1 <= len(by_pid) <= WORKERS
    assert set(by_pid) <= worker_stack.workers.worker_pids()


def test_a_worker_that_dies_fails_its_invocation_only_and_the_pool_is_replaced(worker_stack):
    workers = worker_stack.workers
    assert workers
    url = f"{worker_stack.webhook_base_url}/webhooks/moment/nobody/{'0' * 43}"
    # Nothing in flight: a batch killed with the workers would replace the pool before the request.
    assert worker_stack.wait_until_idle(300)
    with httpx.Client(timeout=300) as http:
        assert http.post(url, json={"customer": {"id": 1}}).status_code == 404  # a warm worker answers
        for pid in workers.worker_pids():
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        lost = http.post(url, json={"customer": {"id": 1}})
        # The lost execution environment is an integration failure, as API Gateway reports it.
        assert lost.status_code == 500
        assert workers.replaced == 1
        assert http.post(url, json={"customer": {"id": 1}}).status_code == 404


def test_workers_ignore_ctrl_c_so_the_stack_decides_when_they_stop(worker_stack):
    """Ctrl-C reaches the whole process group; make run drains the invocations in flight first."""
    workers = worker_stack.workers
    assert workers
    url = f"{worker_stack.webhook_base_url}/webhooks/moment/nobody/{'0' * 43}"
    with httpx.Client(timeout=300) as http:
        assert http.post(url, json={"customer": {"id": 1}}).status_code == 404
        pids, replaced = workers.worker_pids(), workers.replaced
        for pid in pids:
            os.kill(pid, signal.SIGINT)
        time.sleep(0.5)
        assert http.post(url, json={"customer": {"id": 1}}).status_code == 404
    assert workers.replaced == replaced  # no worker was lost to the signal
    for pid in pids:
        os.kill(pid, 0)  # still alive (raises ProcessLookupError otherwise)


def test_a_function_module_cannot_be_patched_from_the_stacks_process(worker_stack):
    with pytest.raises(RuntimeError, match="worker processes"):
        worker_stack.function_module("ProcessorFunction")


def test_a_stack_whose_moto_runs_in_its_own_process_refuses_to_snapshot_rather_than_save_nothing(
    worker_stack,
):
    with pytest.raises(persistence.SnapshotUnusable, match="own process"):
        persistence.take(worker_stack, {}, {})
