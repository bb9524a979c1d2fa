"""The fakes behave like the adapters in what the use cases rely on: the same assertions run against
each fake and its moto-backed adapter (moto in process, tables and queue as template.yaml defines them).

- Sync state: an older Moment state is refused (StaleWrite), a save without a version always lands,
  reads are copies, listing is per tenant and entity type.
- Tenants: compare-and-set on ``version``; create refuses an existing id.
- Credentials: not found until put; what is read back is what was put (secrets revealed only there).
- Event queue: one FIFO group per tenant in send order; a repeated deduplication id is dropped.
"""

from __future__ import annotations

import functools
import itertools
import uuid
from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest
from pydantic import SecretStr

from local.template import load_template
from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.aws.queue import SqsEventQueue
from momentsync.aws.sweep_store import SweepStore
from momentsync.aws.sync_state import DynamoSyncState
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.credentials import CredentialsNotFound, TenantCredentials
from momentsync.envelope import QueueEnvelope
from momentsync.reconcile.sweep import SweepRecord
from momentsync.sync.sync_state import StaleWrite, SyncLink
from momentsync.tenants import TenantConflict
from tests.fakes import (
    InMemoryCredentials,
    InMemoryEventQueue,
    InMemorySweepStore,
    InMemorySyncState,
    InMemoryTenants,
)
from tests.fakes.records import NOW, tenant

REGION = "eu-north-1"


@pytest.fixture(scope="module")
def aws(stack) -> Iterator[None]:
    """The local stack's moto server, with fresh names. Never mock_aws here: entering and leaving it
    resets moto's in-process state, which that server shares, under every later test of this worker
    (the session stack lost its queues: 41 errors when these tests ran before integration tests)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("AWS_ENDPOINT_URL", stack.describe()["aws_endpoint_url"])
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.setenv(key, "local")
        yield


@functools.cache
def resources() -> dict:
    return load_template()["Resources"]


_TABLE_NUMBERS = itertools.count()


def template_table(logical_id: str):
    """A table with the key schema template.yaml gives it (a fresh name per call)."""
    props = resources()[logical_id]["Properties"]
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    return dynamodb.create_table(
        TableName=f"contract-{logical_id}-{next(_TABLE_NUMBERS)}-{uuid.uuid4().hex[:8]}",
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture(params=["fake", "moto"])
def sync_state(request, aws):
    return (
        InMemorySyncState() if request.param == "fake" else DynamoSyncState(template_table("SyncStateTable"))
    )


@pytest.fixture(params=["fake", "moto"])
def sweeps(request, aws):
    return InMemorySweepStore() if request.param == "fake" else SweepStore(template_table("SyncStateTable"))


@pytest.fixture(params=["fake", "moto"])
def tenants(request, aws):
    return (
        InMemoryTenants()
        if request.param == "fake"
        else DynamoTenantRepository(template_table("TenantsTable"))
    )


@pytest.fixture(params=["fake", "moto"])
def credentials(request, aws):
    if request.param == "fake":
        return InMemoryCredentials()
    return SecretsManagerCredentialsStore(
        boto3.client("secretsmanager", region_name=REGION), f"momentsync/contract-{uuid.uuid4().hex[:8]}"
    )


@pytest.fixture(params=["fake", "moto"])
def queue(request, aws):
    if request.param == "fake":
        return InMemoryEventQueue()
    props = resources()["EventQueue"]["Properties"]
    sqs = boto3.client("sqs", region_name=REGION)
    attributes = {
        "FifoQueue": "true",
        "ContentBasedDeduplication": str(props["ContentBasedDeduplication"]).lower(),
        "DeduplicationScope": props["DeduplicationScope"],
        "FifoThroughputLimit": props["FifoThroughputLimit"],
    }
    name = f"contract-events-{uuid.uuid4().hex[:12]}.fifo"
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    adapter = SqsEventQueue(sqs, url)
    adapter.group = lambda tenant_id: received(sqs, url, tenant_id)  # type: ignore[attr-defined]
    return adapter


def received(sqs, url: str, tenant_id: str) -> list[QueueEnvelope]:
    envelopes: list[QueueEnvelope] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"], WaitTimeSeconds=0
    ).get("Messages", []):
        for message in batch:
            if message["Attributes"]["MessageGroupId"] == tenant_id:
                envelopes.append(QueueEnvelope.from_message_body(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return envelopes


def link(moment_id: int = 7, entity_type: str = "customer", **fields) -> SyncLink:
    return SyncLink(tenant_id="acme", entity_type=entity_type, moment_id=moment_id, **fields)


# ---------------------------------------------------------------------------- sync state


def test_sync_state_refuses_an_older_moment_state_and_keeps_the_newer(sync_state):
    sync_state.save(link(remote_id="55", source_modified_at=NOW + timedelta(minutes=5)))

    with pytest.raises(StaleWrite):
        sync_state.save(link(remote_id="66", source_modified_at=NOW))

    assert sync_state.get("acme", "customer", 7).remote_id == "55"


def test_sync_state_takes_an_equal_or_newer_state_and_any_unversioned_save(sync_state):
    sync_state.save(link(remote_id="55", source_modified_at=NOW))
    sync_state.save(link(remote_id="56", source_modified_at=NOW))
    sync_state.save(link(remote_id="57", source_modified_at=NOW + timedelta(seconds=1)))
    # Invoices' exactly-once bookkeeping is saved without a version: never refused.
    sync_state.save(link(remote_id="58", intent="create:1"))

    stored = sync_state.get("acme", "customer", 7)
    assert (stored.remote_id, stored.intent, stored.updated_at is not None) == ("58", "create:1", True)


def test_sync_state_reads_are_copies_and_missing_links_are_none(sync_state):
    sync_state.save(link(details={"kind": "invoice"}, pending=["pdf"]))

    first = sync_state.get("acme", "customer", 7)
    first.details["kind"] = "changed"
    first.pending.clear()

    again = sync_state.get("acme", "customer", 7)
    assert (again.details, again.pending) == ({"kind": "invoice"}, ["pdf"])
    assert sync_state.get("acme", "customer", 8) is None
    assert sync_state.get("other", "customer", 7) is None


def test_sync_state_lists_a_tenants_links_by_entity_type(sync_state):
    sync_state.save(link(7, "customer", last_outcome="synced"))
    sync_state.save(link(9, "invoice", last_outcome="flagged"))
    sync_state.save(SyncLink(tenant_id="other", entity_type="customer", moment_id=1))

    assert [(x.entity_type, x.moment_id) for x in sync_state.list("acme")] == [
        ("customer", 7),
        ("invoice", 9),
    ]
    assert [x.moment_id for x in sync_state.list("acme", "invoice")] == [9]
    counts = sync_state.status_counts("acme").counts
    assert counts == {"customer": {"synced": 1}, "invoice": {"flagged": 1}}


# ---------------------------------------------------------------------------- sweep records


def test_a_sweep_and_a_deep_check_saved_at_once_never_undo_each_other(sweeps):
    assert sweeps.get("acme") is None
    started = SweepRecord(tenant_id="acme", started_at=NOW)
    # Both read the same record, then each saves its own result.
    swept = started.model_copy(update={"outcome": "complete", "watermark": NOW, "listed": 12})
    checked = started.model_copy(update={"deep_checked_at": NOW, "deep_checked": 40, "drift_count": 2})
    sweeps.save_deep_check(checked)
    sweeps.save(swept)

    record = sweeps.get("acme")
    assert (record.outcome, record.watermark, record.listed) == ("complete", NOW, 12)
    assert (record.deep_checked, record.drift_count) == (40, 2)


def test_a_deep_check_without_a_sweep_reads_as_never_swept(sweeps):
    sweeps.save_deep_check(SweepRecord(tenant_id="acme", started_at=NOW, deep_checked_at=NOW, deep_checked=3))

    record = sweeps.get("acme")
    assert (record.outcome, record.started_at, record.deep_checked) == ("never", NOW, 3)


# ---------------------------------------------------------------------------- tenants


def test_tenants_save_is_a_compare_and_set_on_version(tenants):
    tenants.create(tenant("acme"))
    first, second = tenants.get("acme"), tenants.get("acme")

    saved = tenants.save(first.model_copy(update={"name": "Acme Holding AS"}))
    assert saved.version == first.version + 1

    with pytest.raises(TenantConflict):
        tenants.save(second.model_copy(update={"name": "Lost update AS"}))
    assert tenants.get("acme").name == "Acme Holding AS"


def test_tenants_create_refuses_an_existing_id_and_list_is_sorted(tenants):
    tenants.create(tenant("zeta"))
    tenants.create(tenant("acme"))

    with pytest.raises(TenantConflict):
        tenants.create(tenant("acme", name="Another AS"))
    assert [t.tenant_id for t in tenants.list()] == ["acme", "zeta"]
    assert tenants.get("nobody") is None


# ---------------------------------------------------------------------------- credentials


def test_credentials_are_not_found_until_put_and_read_back_as_put(credentials):
    with pytest.raises(CredentialsNotFound):
        credentials.get("acme", fresh=True)

    credentials.put("acme", TenantCredentials(moment_api_key=SecretStr("moment-key-1")))
    credentials.put("acme", TenantCredentials(moment_api_key=SecretStr("moment-key-2")))

    assert credentials.get("acme", fresh=True).moment_api_key.get_secret_value() == "moment-key-2"


# ---------------------------------------------------------------------------- event queue


def envelope(event_id: str, tenant_id: str = "acme", entity_id: int = 7) -> QueueEnvelope:
    return QueueEnvelope(
        event_id=event_id,
        tenant_id=tenant_id,
        entity_type="customer",
        entity_id=entity_id,
        moment_event="UPDATE",
        received_at=NOW,
        payload={"customer": {"id": entity_id}},
    )


def test_the_queue_keeps_each_tenants_order_and_drops_a_repeated_deduplication_id(queue):
    for n in range(5):
        queue.send(envelope(f"e-{n}", entity_id=n))
    queue.send(envelope("e-other", tenant_id="other"))
    queue.send(envelope("e-9", entity_id=99), deduplication_id="e-1")  # a retried send of e-1

    assert [e.event_id for e in queue.group("acme")] == ["e-0", "e-1", "e-2", "e-3", "e-4"]
