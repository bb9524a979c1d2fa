"""Webhook Lambda: authenticate, validate, enqueue. The decision lives in momentsync.ingest.accept."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from momentsync.aws.queue import SqsEventQueue
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.ingest.accept import WebhookRequest, accept_webhook
from momentsync.observability import logger, metrics, tracer
from momentsync.public_edge import EdgeGate, read_edge_secret, refusal
from momentsync.settings import webhook_settings

settings = webhook_settings()
tenants = DynamoTenantRepository(boto3.resource("dynamodb").Table(settings.tenants_table))
queue = SqsEventQueue(boto3.client("sqs"), settings.event_queue_url)
edge = EdgeGate.from_secret(settings.edge_origin_secret_arn, read_edge_secret)
app = APIGatewayHttpResolver()


@app.post("/webhooks/moment/<tenant_id>/<secret>")
def receive_moment_webhook(tenant_id: str, secret: str) -> Response[dict[str, Any]]:
    event = app.current_event
    body = event.body or ""
    raw = base64.b64decode(body) if event.is_base64_encoded else body.encode()
    request_id = event.request_context.request_id
    logger.append_keys(tenant_id=tenant_id, event_id=request_id)
    metrics.add_metric(name="WebhookReceived", unit=MetricUnit.Count, value=1)

    outcome = accept_webhook(
        WebhookRequest(
            tenant_id=tenant_id,
            secret=secret,
            body=raw,
            content_type=event.headers.get("content-type"),
            request_id=request_id,
            received_at=datetime.now(UTC),
        ),
        tenants=tenants,
        queue=queue,
        max_body_bytes=settings.max_webhook_body_bytes,
    )
    _count(outcome.outcome, outcome.status_code)
    # One line per accepted webhook would be the biggest log cost per event and says nothing the HTTP API's
    # access log (status, request id), the metrics and the transfer log do not: accepted ones at DEBUG.
    log = logger.debug if outcome.outcome in ("queued", "ignored") else logger.info
    log(
        "webhook answered",
        extra={"status": outcome.status_code, "outcome": outcome.outcome, "entity_type": outcome.entity_type},
    )
    return Response(status_code=outcome.status_code, content_type="application/json", body=outcome.body)


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
def unexpected_error(exc: Exception) -> Response[dict[str, Any]]:
    # Log the type only: the message of a boto3 or parsing error can echo the request path.
    logger.error("webhook failed", extra={"error_type": type(exc).__name__})
    _count("internal_error", 503)
    return Response(
        status_code=503,
        content_type="application/json",
        body={"error": "unavailable", "message": "Temporarily unable to accept webhooks; retry later"},
    )


def _count(outcome: str, status_code: int) -> None:
    if outcome == "queued":
        metrics.add_metric(name="WebhookQueued", unit=MetricUnit.Count, value=1)
    elif outcome == "ignored":
        metrics.add_metric(name="WebhookIgnored", unit=MetricUnit.Count, value=1)
    else:
        name = "WebhookRejected" if status_code < 500 else "WebhookFailed"
        with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as metric:
            metric.add_dimension(name="Reason", value=outcome)


# log_event=False pinned: POWERTOOLS_LOGGER_LOG_EVENT=true would log raw paths (webhook secrets, link tokens).
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True, log_event=False
)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not edge.admits(event.get("headers")):
        _count("skipped_edge", 403)
        return refusal()
    return app.resolve(event, context)
