"""The public functions (webhook, connect, self-service) as deployed behind the CloudFront edge, run in a
child process on moto's in-process mock: that mock patches botocore for the whole process and would
capture a local stack another test runs in the same pytest worker.

``run_in_child(module, function)`` runs ``module.function()`` in a fresh interpreter and returns what it
printed after ``RESULTS ``; inside the child, ``edge_stack()`` creates the tables, queue and secrets and
sets the functions' environment, and ``load_function`` / ``http_event`` / ``LambdaContextStandIn`` call them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from local.template import ROOT

API_HOST = "abc.execute-api.eu-north-1.amazonaws.com"
EDGE_BASE_URL = "https://d1.cloudfront.net"


def http_event(
    method: str,
    path_and_query: str,
    headers: dict[str, str],
    body: str = "",
    *,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event as API Gateway hands it to a function; a ``cookie`` header
    becomes the event's ``cookies`` list, as API Gateway does."""
    path, _, query = path_and_query.partition("?")
    params = dict(p.partition("=")[::2] for p in query.split("&")) if query else None
    cookies = [headers["cookie"]] if "cookie" in headers else None
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        **({"queryStringParameters": params} if params else {}),
        **({"cookies": cookies} if cookies else {}),
        "headers": {"host": API_HOST, **{k: v for k, v in headers.items() if k != "cookie"}},
        "requestContext": {
            "domainName": API_HOST,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"},
            "requestId": uuid.uuid4().hex,
            "stage": "$default",
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


class LambdaContextStandIn:
    function_name = "edge-test"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:eu-north-1:123456789012:function:edge-test"
    aws_request_id = "req"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def load_function(function_dir: str) -> Any:
    path = ROOT / "functions" / function_dir / "app.py"
    spec = importlib.util.spec_from_file_location(f"_edge_{function_dir}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def edge_stack(edge_secret: str) -> Iterator[dict[str, Any]]:
    """In the child process: moto resources with the template's key schemas and the environment the three
    functions get with ``WebhookEdge=cloudfront``. Yields the boto3 clients the checks read back."""
    import boto3
    from moto import mock_aws

    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ["AWS_DEFAULT_REGION"] = "eu-north-1"
    with mock_aws():
        ddb = boto3.client("dynamodb")
        for table, keys in (
            ("tenants", ["tenant_id"]),
            ("auth", ["pk"]),
            ("parked", ["tenant_id", "parked_key"]),
            ("log", ["tenant_id", "logged_at"]),
            ("audit", ["tenant_id", "recorded_at"]),
        ):
            ddb.create_table(
                TableName=table,
                KeySchema=[
                    {"AttributeName": k, "KeyType": t} for k, t in zip(keys, ("HASH", "RANGE"), strict=False)
                ],
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
                BillingMode="PAY_PER_REQUEST",
            )
        sqs = boto3.client("sqs")
        queue = sqs.create_queue(QueueName="events.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        secrets = boto3.client("secretsmanager")
        app_secret = '{"client_id": "c", "client_secret": "s"}'
        os.environ.update(
            STAGE="dev",
            TENANTS_TABLE="tenants",
            AUTH_TABLE="auth",
            PARKED_EVENTS_TABLE="parked",
            TRANSFER_LOG_TABLE="log",
            AUDIT_TABLE="audit",
            EVENT_QUEUE_URL=queue,
            CREDENTIALS_SECRET_PREFIX="momentsync/edge-test/tenants",
            FIKEN_APP_SECRET_ID=secrets.create_secret(Name="fiken-app", SecretString=app_secret)["ARN"],
            EDGE_ORIGIN_SECRET_ARN=secrets.create_secret(Name="edge", SecretString=edge_secret)["ARN"],
            PUBLIC_BASE_URL=EDGE_BASE_URL,
            POWERTOOLS_TRACE_DISABLED="true",
        )
        yield {"sqs": sqs, "queue": queue, "dynamodb": boto3.resource("dynamodb"), "secretsmanager": secrets}


def run_in_child(module: str, function: str) -> tuple[Any, str]:
    """Runs ``module.function()`` in a fresh interpreter; returns (its RESULTS, all it printed)."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'shared'}:{ROOT}"}
    done = subprocess.run(  # noqa: S603 - our own test module, fixed arguments
        [sys.executable, "-c", f"import {module} as m; m.{function}()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULTS "))
    return json.loads(line.removeprefix("RESULTS ")), done.stdout + done.stderr
