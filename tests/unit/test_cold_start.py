"""Cold start (issue 18 item 3): what a function's `import app` must not pull in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROCESSOR_ENV = {
    "AWS_DEFAULT_REGION": "eu-north-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "TENANTS_TABLE": "tenants",
    "EVENT_QUEUE_URL": "https://sqs.eu-north-1.amazonaws.com/123456789012/events.fifo",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.eu-north-1.amazonaws.com/123456789012/dead.fifo",
    "SYNC_STATE_TABLE": "sync",
    "TRANSFER_LOG_TABLE": "log",
    "PARKED_EVENTS_TABLE": "parked",
    "CREDENTIALS_SECRET_PREFIX": "momentsync/test/tenants",
    "FIKEN_APP_SECRET_ID": "fiken-app",
    "AUTH_TABLE": "auth",
    "SPAREBANK1_APP_SECRET_ID": "sparebank1-app",
    "NOTIFICATIONS_TABLE": "notifications",
}


def imported_after(code: str, **env: str) -> set[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    environment |= PROCESSOR_ENV | env
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT / "functions" / "processor"), str(ROOT / "shared")])
    out = subprocess.run(  # noqa: S603 - our own interpreter and a fixed snippet
        [sys.executable, "-c", f"{code}; import sys; print(' '.join(sorted(sys.modules)))"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT / "functions" / "processor",
    )
    return set(out.stdout.split())


def test_the_processor_imports_neither_xray_nor_jwt_while_tracing_is_off():
    modules = imported_after("import app")
    assert "app" in modules  # the import did run
    assert not {m for m in modules if m.startswith(("aws_xray_sdk", "jwt", "cryptography"))}


def test_tracing_on_in_lambda_still_gets_powertools_tracer():
    modules = imported_after(
        "from momentsync.observability import tracer; "
        "from aws_lambda_powertools import Tracer; assert isinstance(tracer, Tracer)",
        AWS_LAMBDA_FUNCTION_NAME="ProcessorFunction",
    )
    assert "aws_xray_sdk.core" in modules


def test_tracing_disabled_by_powertools_variable_imports_no_xray():
    modules = imported_after(
        "from momentsync.observability import tracer",
        AWS_LAMBDA_FUNCTION_NAME="ProcessorFunction",
        POWERTOOLS_TRACE_DISABLED="true",
    )
    assert "momentsync.observability" in modules
    assert "aws_xray_sdk.core" not in modules
