"""The functions' log lines at the deployed level (issue 18 item 2): what an SRE needs, not what every
line of a log group repeats (momentsync.observability.CompactFormatter)."""

from __future__ import annotations

import io
import json
import logging
import uuid
from dataclasses import dataclass

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import logger as powertools_logger

from momentsync.observability import CompactFormatter

REPEATED = {"service", "function_name", "function_arn", "function_memory_size"}


@dataclass
class Context:
    function_name: str = "ProcessorFunction"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:eu-north-1:123456789012:function:ProcessorFunction"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "6bf420ae-da83-4388-95ba-a8b63d000354"


def lines_of_two_invocations(log_call, monkeypatch) -> list[dict]:
    # Powertools keeps "cold start" in one module flag: whichever handler ran first in this process (another
    # test's) has spent it. The first of these two invocations is this logger's cold start.
    monkeypatch.setattr(powertools_logger, "is_cold_start", True)
    stream = io.StringIO()
    logger = Logger(
        service=f"m{uuid.uuid4().hex[:9]}",  # as long as "momentsync"; one Python logger per test
        logger_formatter=CompactFormatter(),
        logger_handler=logging.StreamHandler(stream),
    )

    @logger.inject_lambda_context(clear_state=True, log_event=False)
    def handler(event: dict, context: Context) -> None:
        log_call(logger)

    handler({}, Context())
    handler({}, Context())
    return [json.loads(line) for line in stream.getvalue().splitlines()]


EVENT = {
    "tenant_id": "acme",
    "event_id": "e-1",
    "entity_type": "customer",
    "entity_id": 7,
    "outcome": "synced",
    "remote_calls": 2,
    "duration_ms": 441,
}


def event_processed(logger: Logger) -> None:
    logger.info("event processed", extra={**EVENT, "reason": None})


def test_an_info_line_keeps_what_an_sre_needs_and_drops_what_the_log_group_says(monkeypatch):
    cold, warm = lines_of_two_invocations(event_processed, monkeypatch)
    for line in (cold, warm):
        assert not REPEATED & line.keys()
        assert "location" not in line
        assert "reason" not in line  # None is left out
        assert line["function_request_id"] == Context.aws_request_id
        assert {k: line[k] for k in ("level", "message", *EVENT)} == {
            "level": "INFO",
            "message": "event processed",
            **EVENT,
        }
        assert line["timestamp"]
    assert cold["cold_start"] is True
    assert "cold_start" not in warm  # absent means warm


def test_a_warning_keeps_its_code_location(monkeypatch):
    def warn(logger: Logger) -> None:
        logger.warning("tenant paused", extra={"tenant_id": "acme"})

    for line in lines_of_two_invocations(warn, monkeypatch):
        assert line["location"].startswith("warn:")
        assert not REPEATED & line.keys()


def test_the_compact_line_is_at_least_a_quarter_shorter_than_powertools_default(monkeypatch):
    compact = lines_of_two_invocations(event_processed, monkeypatch)[1]
    stream = io.StringIO()
    default = Logger(service=f"m{uuid.uuid4().hex[:9]}", logger_handler=logging.StreamHandler(stream))
    default.inject_lambda_context(clear_state=True, log_event=False)(lambda e, c: event_processed(default))(
        {}, Context()
    )
    default.inject_lambda_context(clear_state=True, log_event=False)(lambda e, c: event_processed(default))(
        {}, Context()
    )
    full = stream.getvalue().splitlines()[1]
    assert len(json.dumps(compact, separators=(",", ":"))) <= 0.75 * len(full)
