"""Typed settings read from environment variables, one model per Lambda, validated at cold start.

Names are the environment variable names (case-insensitive). ``template.yaml`` gives each function
exactly the variables its model declares; ``tests/unit/test_template.py`` keeps the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    stage: str = Field(default="dev", min_length=1)
    tenants_table: str = Field(min_length=1)


class WebhookSettings(_Settings):
    event_queue_url: str = Field(min_length=1)
    # Moment's webhooks are thin (ids and numbers); anything near this size is not Moment.
    max_webhook_body_bytes: int = Field(default=256 * 1024, gt=0)
    # WebhookEdge=cloudfront: the secret CloudFront sends in a header (momentsync.public_edge).
    edge_origin_secret_arn: str | None = None


class ProcessorSettings(_Settings):
    event_queue_url: str = Field(min_length=1)
    dead_letter_queue_url: str = Field(min_length=1)
    sync_state_table: str = Field(min_length=1)
    transfer_log_table: str = Field(min_length=1)
    parked_events_table: str = Field(min_length=1)
    credentials_secret_prefix: str = Field(min_length=1)
    moment_api_base_url: str = "https://app.moment.team/api/1.0"
    fiken_api_base_url: str = "https://api.fiken.no/api/v2"
    # Token refresh: the app's client credentials, Fiken's OAuth host, the table holding the leases.
    fiken_oauth_base_url: str = "https://fiken.no"
    fiken_app_secret_id: str = Field(min_length=1)
    auth_table: str = Field(min_length=1)
    # Refresh this long before Fiken's expiry, so no request starts with a token about to lapse.
    fiken_token_refresh_margin_seconds: int = Field(default=300, ge=0)
    # Fiken's pace per company: at most 4 request starts in any window of this many seconds, one in
    # flight (connectors/fiken/pacing.py; a little over 1 s on purpose). Replaced
    # FIKEN_MIN_REQUEST_INTERVAL_SECONDS (a fixed 0.255 s between starts, even after idle time).
    fiken_request_window_seconds: float = Field(default=1.02, ge=0.0)
    # Off by default: also pace all tenants of the Fiken app together (docs/fiken-rate-limit.md).
    fiken_app_min_request_interval_seconds: float | None = Field(default=None, ge=0.0)
    # SpareBank 1 Regnskap: the ONE secret holding the app's client id and certificate key.
    sparebank1_app_secret_id: str = Field(min_length=1)
    # "allowed" lets a tenant's bank be a base URL instead of a key of the bank table: local and test
    # stacks only (template rule: never with Stage=prod; docs/security.md).
    sparebank1_custom_bank_urls: Literal["refused", "allowed"] = "refused"
    transfer_log_retention_days: int = Field(default=90, gt=0)
    # The queue's maxReceiveCount: on the last delivery a transient failure is dead-lettered by us,
    # with its reason, rather than by SQS without one.
    max_receive_count: int = Field(default=5, ge=1)
    # Message groups (tenants) of one batch processed at once, each in order (sync/tenant_batches.py);
    # 1 processes the batch's tenants one after another. A FIFO batch holds at most 10 records.
    processor_tenant_concurrency: int = Field(default=10, ge=1, le=10)
    # Notifications (momentsync.aws.notifications): the throttle table keeps one e-mail per incident;
    # an empty sender means SES is off and tenant notifications are only logged; an empty topic,
    # that dead letters are only logged.
    notifications_table: str = Field(min_length=1)
    notification_sender: str = ""
    notification_window_hours: int = Field(default=24, gt=0)
    operator_topic_arn: str = ""


class ConnectSettings(_Settings):
    """The connect function: Fiken's OAuth2 flow in the browser, then resuming parked events."""

    auth_table: str = Field(min_length=1)
    parked_events_table: str = Field(min_length=1)
    event_queue_url: str = Field(min_length=1)
    credentials_secret_prefix: str = Field(min_length=1)
    fiken_app_secret_id: str = Field(min_length=1)
    fiken_oauth_base_url: str = "https://fiken.no"
    fiken_api_base_url: str = "https://api.fiken.no/api/v2"
    # A state outlives one trip through Fiken's consent page; a choice, one look at the company list.
    oauth_state_ttl_seconds: int = Field(default=900, gt=0)
    company_choice_ttl_seconds: int = Field(default=1800, gt=0)
    # WebhookEdge=cloudfront: the secret CloudFront sends in a header (momentsync.public_edge).
    edge_origin_secret_arn: str | None = None
    # WebhookEdge=cloudfront: the distribution's https address, for links and Fiken's redirect URI.
    public_base_url: str | None = None


class ReconcileSettings(_Settings):
    """The scheduled sweep: Moment's lists per tenant, compared with sync state, into the queue."""

    event_queue_url: str = Field(min_length=1)
    sync_state_table: str = Field(min_length=1)
    credentials_secret_prefix: str = Field(min_length=1)
    moment_api_base_url: str = "https://app.moment.team/api/1.0"
    # Listed from the watermark less this: a change stamped by a clock behind ours is still seen.
    reconcile_overlap_minutes: int = Field(default=15, ge=0)
    # Per tenant per sweep, so webhook events behind them in the tenant's FIFO group are not starved.
    reconcile_max_events_per_tenant: int = Field(default=200, gt=0)


@lru_cache(maxsize=1)
def reconcile_settings() -> ReconcileSettings:
    return ReconcileSettings()


class HealthSettings(_Settings):
    """The scheduled tenant-health check (momentsync.health)."""

    parked_events_table: str = Field(min_length=1)
    transfer_log_table: str = Field(min_length=1)
    notifications_table: str = Field(min_length=1)
    operator_topic_arn: str = ""
    health_parked_minutes: int = Field(default=60, gt=0)
    health_quiet_days: int = Field(default=3, gt=0)


class SelfServiceSettings(_Settings):
    """The tenant's self-service page (momentsync.selfservice)."""

    auth_table: str = Field(min_length=1)
    transfer_log_table: str = Field(min_length=1)
    event_queue_url: str = Field(min_length=1)
    credentials_secret_prefix: str = Field(min_length=1)
    audit_table: str = Field(min_length=1)
    page_session_minutes: int = Field(default=30, gt=0, le=240)
    # WebhookEdge=cloudfront: the secret CloudFront sends in a header (momentsync.public_edge).
    edge_origin_secret_arn: str | None = None
    # WebhookEdge=cloudfront: the distribution's https address, for links and Fiken's redirect URI.
    public_base_url: str | None = None


@lru_cache(maxsize=1)
def selfservice_settings() -> SelfServiceSettings:
    return SelfServiceSettings()


@lru_cache(maxsize=1)
def health_settings() -> HealthSettings:
    return HealthSettings()


@lru_cache(maxsize=1)
def webhook_settings() -> WebhookSettings:
    return WebhookSettings()


@lru_cache(maxsize=1)
def processor_settings() -> ProcessorSettings:
    return ProcessorSettings()


@lru_cache(maxsize=1)
def connect_settings() -> ConnectSettings:
    return ConnectSettings()
