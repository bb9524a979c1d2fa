"""The functions' settings read from the environment as pydantic-settings did (momentsync.settings):
names case-insensitive, strings converted and checked, explicit values over the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from momentsync.settings import WebhookSettings, webhook_settings


@pytest.fixture
def webhook_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STAGE", "EDGE_ORIGIN_SECRET_ARN", "MAX_WEBHOOK_BODY_BYTES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TENANTS_TABLE", "tenants-prod")
    monkeypatch.setenv("event_queue_url", "https://sqs.example/events.fifo")  # any case
    monkeypatch.setenv("MAX_WEBHOOK_BODY_BYTES", "65536")


def test_variables_are_read_by_field_name_in_any_case_and_converted(webhook_environment: None):
    settings = WebhookSettings.model_validate({})
    assert settings.tenants_table == "tenants-prod"
    assert settings.event_queue_url == "https://sqs.example/events.fifo"
    assert settings.max_webhook_body_bytes == 65536
    assert settings.stage == "dev"  # the default where no variable is set
    assert settings.edge_origin_secret_arn is None


def test_explicit_values_win_over_the_environment(webhook_environment: None):
    assert WebhookSettings.model_validate({"tenants_table": "other"}).tenants_table == "other"


def test_a_missing_or_invalid_variable_fails_at_cold_start_naming_it(
    webhook_environment: None, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("TENANTS_TABLE")
    monkeypatch.setenv("MAX_WEBHOOK_BODY_BYTES", "0")
    webhook_settings.cache_clear()
    with pytest.raises(ValidationError) as failure:
        webhook_settings()
    named = {error["loc"][0] for error in failure.value.errors()}
    assert named == {"tenants_table", "max_webhook_body_bytes"}
    webhook_settings.cache_clear()


def test_other_variables_of_the_environment_are_ignored(
    webhook_environment: None, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PATH_TO_NOWHERE", "x")
    assert "path_to_nowhere" not in WebhookSettings.model_validate({}).model_dump()
