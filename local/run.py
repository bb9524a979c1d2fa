"""`make run` / `make demo`: the whole pipeline on this machine, no AWS account, no credentials.

`make run` starts the local stack, creates a demo tenant, prints its webhook URL and an example
curl, and serves until Ctrl-C. `make demo` (``--demo``) does the same, checks the outcome, and exits
0 only if every demo event was accepted and processed.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

import httpx

from local.stack import STATE_FILE, LocalStack, LocalStackConfig
from momentsync.credentials import SecretsManagerCredentialsStore
from momentsync.onboarding import add_tenant
from momentsync.tenants import DynamoTenantRepository, TargetSystem

DEMO_TENANT = "demo"
DEMO_WEBHOOKS = [
    {"event": "CREATE_NEW", "customer": {"id": 62788973, "customerNumber": "10001"}},
    {"event": "CREATE_NEW", "project": {"id": 62788980, "projectNumber": "1"}},
    {
        "event": "CREATE_NEW",
        "invoice": {
            "id": 106939080,
            "invoiceNumber": 1,
            "customer": {"id": 62788973, "customerNumber": "10001"},
            "project": {"id": 62788980, "projectNumber": "1"},
        },
    },
]


def create_demo_tenant(stack: LocalStack) -> str:
    assert stack.aws
    tenants = DynamoTenantRepository(stack.aws.resource("dynamodb").Table(stack.environment["TENANTS_TABLE"]))
    credentials = SecretsManagerCredentialsStore(
        stack.aws.client("secretsmanager"), stack.environment["CREDENTIALS_SECRET_PREFIX"]
    )
    _tenant, url = add_tenant(
        tenants=tenants,
        credentials=credentials,
        webhook_base_url=stack.webhook_base_url,
        tenant_id=DEMO_TENANT,
        name="Demo AS",
        target=TargetSystem.FIKEN,
        moment_company_code="demo",
        moment_api_key="local-demo-moment-key",
        fiken_company_slug="demo-as",
        notification_emails=["ops@demo.invalid"],
    )
    return url.url


def send_demo_webhooks(url: str) -> list[httpx.Response]:
    return [httpx.post(url, json=body, timeout=10) for body in DEMO_WEBHOOKS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", action="store_true", help="run the demo, check it, and exit")
    parser.add_argument("--port", type=int, default=3000, help="local HTTP API port (0: any free port)")
    parser.add_argument("--verbose", action="store_true", help="show the functions' INFO logs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    config = LocalStackConfig(
        http_port=0 if args.demo else args.port,
        state_file=STATE_FILE,
        log_level=None if args.verbose else "WARNING",
    )
    stack = LocalStack(config).start()
    try:
        url = create_demo_tenant(stack)
        print(f"local HTTP API:      {stack.webhook_base_url}")
        print(f"embedded AWS (moto): {stack.aws.endpoint_url if stack.aws else '?'}")
        print(f"demo tenant webhook: {url}")
        print("example:")
        print(
            "  curl -X POST -H 'content-type: application/json' \\\n"
            f"    -d '{json.dumps(DEMO_WEBHOOKS[0])}' \\\n    {url}"
        )
        print("operator CLI:        .venv/bin/momentsync --local tenants show demo")

        responses = send_demo_webhooks(url)
        accepted = [r for r in responses if r.status_code == 202]
        print(f"demo webhooks: {len(accepted)}/{len(responses)} accepted")
        processed = stack.wait_until_idle(timeout=60)
        print(f"queue drained: {processed}")
        ok = len(accepted) == len(responses) and processed
        if args.demo:
            print("DEMO OK" if ok else "DEMO FAILED")
            return 0 if ok else 1

        print("serving; Ctrl-C stops")
        stopped = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stopped.set())
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        stopped.wait()
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
