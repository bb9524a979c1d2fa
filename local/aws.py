"""An embedded AWS for the local stack: moto's threaded server with the template's resources.

Every queue, table, topic, secret, KMS key and SES identity is created from its definition in
template.yaml (the properties as written, intrinsics resolved; a conditional one when its condition
holds). The one deliberate difference is an optional shorter visibility timeout, so a failed event
is retried in seconds rather than the deployed 20 minutes.

moto's backends are not safe across its server's threads, and AWS performs each call atomically, so
the embedded server does too (``atomic_calls``):

- SQS: concurrent sends, receives, deletes and visibility changes can corrupt a FIFO queue's set of
  in-flight messages, after which receives return nothing for a message group while its messages sit
  visible (seen in a 10,000-event chaos run: 72 messages stranded).
- DynamoDB: a conditional write reads the item, parses and evaluates the condition, then writes, with
  nothing held in between. Two lease puts that both read "no lease" both succeeded, and two Fiken
  token refreshes ran at once (CI, about 1 run in 100 under load: docs/local-aws.md). DynamoDB
  evaluates a condition and writes atomically, so every item read and write here holds the lock.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import multiprocessing
import os
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any

import boto3
from moto.core.utils import unix_time
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table as DynamoTable
from moto.server import ThreadedMotoServer
from moto.sqs.models import SQSBackend

from local.template import LocalNames, Resolver, load_template
from local.workers import exit_with_parent

_SUPPORTED = {
    "AWS::SQS::Queue",
    "AWS::DynamoDB::Table",
    "AWS::SNS::Topic",
    "AWS::SecretsManager::Secret",
    "AWS::KMS::Key",
    "AWS::SES::EmailIdentity",
}
_LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


@dataclass
class EmbeddedAws:
    server: ThreadedMotoServer | MotoProcess
    endpoint_url: str
    region: str

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=self.region)

    def resource(self, service: str) -> Any:
        return boto3.resource(service, endpoint_url=self.endpoint_url, region_name=self.region)

    def stop(self) -> None:
        self.server.stop()


# One lock for every call below, and for make run's snapshot (local/persistence.py): no message moves
# and no item changes while another call, or the snapshot, looks at them.
_AWS_LOCK = threading.RLock()
# Every SQS call the functions, the poller and the CLI make; long polls are not used locally.
_SQS_CALLS = (
    "send_message",
    "send_message_batch",
    "receive_message",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "purge_queue",
    "get_queue_attributes",
    "start_message_move_task",
)
# Every DynamoDB call that reads or writes items (batch and transaction calls reach the single-item
# ones through the same reentrant lock).
_DYNAMODB_CALLS = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
    "execute_statement",
    "execute_transaction",
    "batch_execute_statement",
)


def atomic_calls() -> None:
    """Makes each of moto's SQS and DynamoDB calls atomic (once per process; see the module docstring)."""
    for backend, names in ((SQSBackend, _SQS_CALLS), (DynamoDBBackend, _DYNAMODB_CALLS)):
        for name in names:
            original = getattr(backend, name, None)
            if original is None or getattr(original, "_momentsync_atomic", False):
                continue

            def atomic(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
                with _AWS_LOCK:
                    return __original(self, *args, **kwargs)

            functools.update_wrapper(atomic, original)
            atomic._momentsync_atomic = True  # type: ignore[attr-defined]
            setattr(backend, name, atomic)


def fifo_group_order() -> None:
    """Keeps a FIFO message group closed while any of its messages is in flight (once per process).

    moto decides per message, in queue order, and forgets a timed-out in-flight message only when
    its scan reaches it: a group's first message whose visibility ran out was then skipped (its
    later messages still counted as in flight), and a later message that ran out after it was
    delivered first. SQS returns a group's messages only when none of it is in flight, oldest first
    (docs/reference/aws.md §2: in-flight messages block their group). So every timed-out message is released
    before the scan, and the scan then sees exactly the groups that still have messages in flight.
    """
    original = SQSBackend.receive_message
    if getattr(original, "_momentsync_group_order", False):
        return

    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        if queue.fifo_queue:
            timed_out = {message for message in queue.pending_messages if message.visible}
            queue.pending_messages.difference_update(timed_out)
        return original(self, queue_name, *args, **kwargs)

    functools.update_wrapper(receive_message, original)
    receive_message._momentsync_group_order = True  # type: ignore[attr-defined]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]


def lighter_moto() -> None:
    """Takes work off every moto request that gives the same answer each time (once per process).

    Measured in make bench part 4 (issue 18): moto's process spent ~45 ms of CPU per event, much of it
    recomputing constants. Per request, the server listed moto's package folder twice (``os.listdir`` and
    a ``stat`` per service) to route the call; every SQS queue attribute read rebuilt all attributes,
    converting each name from CamelCase; every received message re-read the queue's retention period
    that way, three times. The answers are unchanged: the folder does not change while running, the
    conversion is a pure function of its string, the retention period is the queue's own attribute.
    """
    import moto.core.utils as moto_utils
    from moto import backends

    if getattr(backends.list_of_moto_modules, "_momentsync_cached", False):
        return
    modules = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    list_of_moto_modules._momentsync_cached = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules  # type: ignore[assignment]

    original = moto_utils.camelcase_to_underscores
    cached = functools.lru_cache(maxsize=4096)(original)
    # Modules that imported the function by name hold their own reference: replace it there too.
    for name, module in list(sys.modules.items()):
        if name.startswith("moto") and getattr(module, "camelcase_to_underscores", None) is original:
            module.camelcase_to_underscores = cached  # type: ignore[attr-defined]

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_period + message.sent_timestamp / 1000 > unix_time())

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
    _query_one_partition()


_query_partition = threading.local()


def _query_one_partition() -> None:
    """A table query sorts only its own partition, not the whole table.

    moto's ``Table.query`` (no index) sorts every item of the table, then keeps those of the queried
    hash key: with 1,000 tenants' transfer logs (20,000 items) each query of one tenant sorted all of
    them. While such a query runs, ``all_items`` answers on its thread with that partition alone,
    sorted the same way; the query's own hash-key filter then keeps the same items in the same order.
    """
    original_query, original_all_items = DynamoTable.query, DynamoTable.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        _query_partition.key = (self, hash_key) if index_name is None and hash_key is not None else None
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _query_partition.key = None

    def all_items(self: Any) -> list[Any]:
        hint = getattr(_query_partition, "key", None)
        if hint is None or hint[0] is not self:
            return original_all_items(self)
        partition = self.items.get(hint[1])
        if partition is None:
            return []
        items = list(partition.values()) if self.range_key_attr else [partition]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    DynamoTable.query = query  # type: ignore[method-assign]
    DynamoTable.all_items = all_items  # type: ignore[method-assign]


def _start_moto_server() -> tuple[ThreadedMotoServer, str]:
    """moto's server on a free loopback port, with our SQS FIFO patches; returns it and its endpoint."""
    fifo_group_order()
    atomic_calls()
    lighter_moto()
    # werkzeug logs every AWS call at INFO; the local stack's own log is what an operator reads.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def _serve_moto(connection: Any) -> None:
    """A moto server process: sends its endpoint, serves until told to stop (or the stack is gone)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the stack's process decides when AWS stops
    exit_with_parent()
    server, endpoint = _start_moto_server()
    connection.send(endpoint)
    with contextlib.suppress(EOFError):
        connection.recv()
    server.stop()


class MotoProcess:
    """moto's server in its own process, so its CPU is not the stack's interpreter's (bench, chaos).

    Its state cannot be snapshotted from the stack's process (``make run`` keeps moto in-process).
    """

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve_moto, args=(child,), name="moto", daemon=True)
        self._process.start()
        self.endpoint_url: str = self._connection.recv()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._connection.send("stop")
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


def start_embedded_aws(region: str, *, own_process: bool = False) -> EmbeddedAws:
    """Starts moto on a free loopback port and points every boto3 client in this process at it.

    ``own_process``: moto runs in a process of its own (its state is then not reachable from here).
    """
    server: ThreadedMotoServer | MotoProcess
    if own_process:
        server = MotoProcess()
        endpoint = server.endpoint_url
    else:
        server, endpoint = _start_moto_server()
    os.environ.update(_LOCAL_CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ["AWS_DEFAULT_REGION"] = region
    os.environ["AWS_REGION"] = region
    return EmbeddedAws(server=server, endpoint_url=endpoint, region=region)


def create_resources(
    aws: EmbeddedAws, names: LocalNames, *, visibility_timeout: int | None = None
) -> Resolver:
    """Creates the template's supported resources in dependency order; returns the resolver."""
    template = load_template()
    resolver = Resolver(template, names)
    conditions = template.get("Conditions", {})
    pending = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in _SUPPORTED
        and ("Condition" not in resource or resolver.resolve(conditions[resource["Condition"]]))
    }
    while pending:
        progressed = False
        for logical_id, resource in list(pending.items()):
            try:
                props = resolver.resolve(resource.get("Properties", {}))
            except KeyError:
                continue  # depends on a resource not created yet
            _CREATORS[resource["Type"]](aws, names, logical_id, props, visibility_timeout)
            del pending[logical_id]
            progressed = True
        if not progressed:
            raise RuntimeError(f"cannot resolve local resources: {sorted(pending)}")
    return resolver


def _create_queue(aws: EmbeddedAws, names: LocalNames, logical_id: str, props: dict, visibility: int | None):
    attributes = {}
    for key, value in props.items():
        if key in {"QueueName", "Tags"}:
            continue
        if isinstance(value, dict):
            value = json.dumps(value)
        elif isinstance(value, bool):
            value = str(value).lower()
        attributes[key] = str(value)
    if visibility is not None:
        attributes["VisibilityTimeout"] = str(visibility)
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    names.physical[logical_id] = url
    names.attributes[(logical_id, "Arn")] = arn
    names.attributes[(logical_id, "QueueName")] = props["QueueName"]
    names.attributes[(logical_id, "QueueUrl")] = url


def _create_table(aws: EmbeddedAws, names: LocalNames, logical_id: str, props: dict, _visibility: int | None):
    table_name = props.get("TableName") or f"{names.stack_name}-{logical_id}"
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"):
        if key in props:
            kwargs[key] = props[key]
    if "SSESpecification" in props:  # CloudFormation says SSEEnabled where the API says Enabled
        kwargs["SSESpecification"] = {"Enabled": props["SSESpecification"]["SSEEnabled"]}
    client = aws.client("dynamodb")
    description = client.create_table(**kwargs)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
    recovery = props.get("PointInTimeRecoverySpecification")
    if recovery:
        client.update_continuous_backups(TableName=table_name, PointInTimeRecoverySpecification=recovery)
    names.physical[logical_id] = table_name
    names.attributes[(logical_id, "Arn")] = description["TableArn"]


def _create_topic(aws: EmbeddedAws, names: LocalNames, logical_id: str, props: dict, _visibility: int | None):
    attributes = {"KmsMasterKeyId": props["KmsMasterKeyId"]} if "KmsMasterKeyId" in props else {}
    arn = aws.client("sns").create_topic(Name=props.get("TopicName", logical_id), Attributes=attributes)[
        "TopicArn"
    ]
    names.physical[logical_id] = arn
    names.attributes[(logical_id, "TopicName")] = props.get("TopicName", logical_id)


def _create_secret(
    aws: EmbeddedAws, names: LocalNames, logical_id: str, props: dict, _visibility: int | None
):
    secret_name = props.get("Name") or f"{names.stack_name}-{logical_id}"
    value = props.get("SecretString", "{}")
    arn = aws.client("secretsmanager").create_secret(Name=secret_name, SecretString=value)["ARN"]
    names.physical[logical_id] = arn
    names.attributes[(logical_id, "Id")] = arn


def _create_key(aws: EmbeddedAws, names: LocalNames, logical_id: str, props: dict, _visibility: int | None):
    metadata = aws.client("kms").create_key(Description=props.get("Description", logical_id))["KeyMetadata"]
    names.physical[logical_id] = metadata["KeyId"]
    names.attributes[(logical_id, "Arn")] = metadata["Arn"]
    names.attributes[(logical_id, "KeyId")] = metadata["KeyId"]


def _create_email_identity(
    aws: EmbeddedAws, names: LocalNames, logical_id: str, props: dict, _visibility: int | None
):
    # moto verifies at once; deployed, SES mails the address a link to click first.
    aws.client("ses").verify_email_identity(EmailAddress=props["EmailIdentity"])
    names.physical[logical_id] = props["EmailIdentity"]


_CREATORS = {
    "AWS::SQS::Queue": _create_queue,
    "AWS::DynamoDB::Table": _create_table,
    "AWS::SNS::Topic": _create_topic,
    "AWS::SecretsManager::Secret": _create_secret,
    "AWS::KMS::Key": _create_key,
    "AWS::SES::EmailIdentity": _create_email_identity,
}
