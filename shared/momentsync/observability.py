"""Logger, metrics and tracer, created once per cold start and shared by every module of a function.

Service name and namespace come from ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE``
(template.yaml), with the same defaults here so a module imported before the environment is set
(tests, the CLI) still emits valid metrics. Per-tenant figures go into metric *properties*, never
dimensions: a dimension per tenant multiplies CloudWatch cost by the tenant count.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer
    from aws_lambda_powertools.logging.types import LogRecord

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "momentsync")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "MomentSync")


class ThreadSafeMetrics(Metrics):
    """The processor adds metrics from several threads at once (one per tenant of a batch): Powertools'
    metric set is a plain dict of lists, where two first adds of one name would lose a count."""

    _adding = threading.Lock()

    def add_metric(self, *args: Any, **kwargs: Any) -> None:
        with self._adding:
            super().add_metric(*args, **kwargs)


class CompactFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines without what every line of a function's log group repeats: the log group
    and Lambda's REPORT line already say the function, its ARN, memory size and our service name. Kept:
    level, message, timestamp, the request id, our keys (tenant, event, entity, outcome, reason, remote
    calls, duration), ``cold_start`` when true (absent means warm), and the code location on warnings
    and errors. The transfer log in DynamoDB keeps the full record of each event."""

    REPEATED = ("service", "function_name", "function_arn", "function_memory_size")

    def serialize(self, log: LogRecord) -> str:
        record = cast("dict[str, Any]", log)  # format() passes its dict of keys
        for key in self.REPEATED:
            record.pop(key, None)
        if record.get("cold_start") is False:
            del record["cold_start"]
        if record.get("level") in ("DEBUG", "INFO"):
            record.pop("location", None)
        return super().serialize(record)


logger = Logger(service=SERVICE, logger_formatter=CompactFormatter())
metrics = ThreadSafeMetrics(namespace=NAMESPACE, service=SERVICE)


def tracing_enabled() -> bool:
    """Powertools' own rule: off when POWERTOOLS_TRACE_DISABLED is true, outside Lambda, in SAM local."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in ("1", "true", "yes", "on"):
        return False
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not os.environ.get("AWS_SAM_LOCAL")


_Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


class UntracedHandlers:
    """What the functions use of Powertools' Tracer, doing nothing: Tracer imports the X-Ray SDK (about
    a third of a cold `import app`) even when it is disabled."""

    def capture_lambda_handler(self, *_: Any, **__: Any) -> _Decorator:
        return lambda handler: handler

    def capture_method(self, *_: Any, **__: Any) -> _Decorator:
        return lambda method: method


def _tracer() -> Tracer:
    if not tracing_enabled():
        # Typed as the Tracer it stands in for: the handlers' decorators keep their signatures.
        return cast("Tracer", UntracedHandlers())
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


tracer = _tracer()
