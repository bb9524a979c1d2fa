"""Cold start (issue 18 item 3): what a function's `import app` must not pull in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


# In the dev virtualenv, not in the Lambda layer (shared/requirements.txt), and imported by a layer
# package when present (httpcore: trio; httpx: its command line). Hidden, as the layer lacks them.
LAYERLESS = ("trio", "click", "rich", "pygments")
HIDE = f"import sys; sys.modules.update(dict.fromkeys({LAYERLESS!r}))"

# What a cold `import app` must not load, per function: modules of rare paths, of other functions, and
# packages the layer no longer has. Each entry is a module name or a package prefix (name + ".").
NEVER_AT_COLD_START = (
    "aws_xray_sdk",  # tracing is off unless POWERTOOLS_TRACE_DISABLED is false in Lambda
    "jwt",  # SpareBank 1's client assertion, at its first tenant
    "cryptography",
    "momentsync.connectors.sparebank1.connector",  # with its client and mapping, at its first tenant
    "momentsync.connectors.sparebank1.client",
    "momentsync.connectors.sparebank1.mapping",
    "momentsync.cli",
    "momentsync.operations",
    "momentsync.reconcile",
    "momentsync.selfservice",
    "momentsync.connect",
    "pydantic_settings",  # replaced by momentsync.settings' own environment reading
    "dotenv",
    "aws_lambda_powertools.utilities.parameters",  # only with the edge secret configured
)
NEVER_IN_THE_WEBHOOK = (
    "httpx",  # the webhook calls no HTTP API
    "httpcore",
    "tenacity",
    "momentsync.connectors",
    "momentsync.sync",
    "momentsync.wiring",
    "aws_lambda_powertools.utilities.batch",
)
NEVER_IN_THE_PROCESSOR = ("aws_lambda_powertools.event_handler",)


def imported_after(code: str, function: str = "processor", **env: str) -> set[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    environment |= PROCESSOR_ENV | env
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT / "functions" / function), str(ROOT / "shared")])
    out = subprocess.run(  # noqa: S603 - our own interpreter and a fixed snippet
        [sys.executable, "-c", f"{HIDE}; {code}; import sys; print(' '.join(sorted(sys.modules)))"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT / "functions" / function,
    )
    return set(out.stdout.split())


def loaded(modules: set[str], names: tuple[str, ...]) -> set[str]:
    return {m for m in modules if any(m == name or m.startswith(name + ".") for name in names)}


@pytest.mark.parametrize(
    ("function", "forbidden"),
    [
        ("webhook", NEVER_AT_COLD_START + NEVER_IN_THE_WEBHOOK),
        ("processor", NEVER_AT_COLD_START + NEVER_IN_THE_PROCESSOR),
    ],
)
def test_a_cold_import_app_loads_none_of_the_heavy_modules_it_does_not_need(function, forbidden):
    modules = imported_after("import app", function)
    assert "app" in modules  # the import did run
    assert loaded(modules, forbidden) == set()


def test_the_check_sees_a_heavy_module_that_comes_back():
    # The same check, with SpareBank 1's connector imported as it would be at module level.
    modules = imported_after("import app; import momentsync.connectors.sparebank1.connector", "processor")
    assert "momentsync.connectors.sparebank1.connector" in loaded(modules, NEVER_AT_COLD_START)


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
