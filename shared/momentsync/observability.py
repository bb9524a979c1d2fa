"""Logger, metrics and tracer, created once per cold start and shared by every module of a function.

Service name and namespace come from ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE``
(template.yaml), with the same defaults here so a module imported before the environment is set
(tests, the CLI) still emits valid metrics. Per-tenant figures go into metric *properties*, never
dimensions: a dimension per tenant multiplies CloudWatch cost by the tenant count.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "momentsync")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "MomentSync")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)
