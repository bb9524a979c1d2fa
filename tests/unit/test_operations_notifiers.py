"""Tenant e-mails and operator alerts, with fakes: who is told, when not, and that failures never
reach the processor."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from momentsync.aws.notifications import LogNotifier, SesNotifier, SnsOperatorAlerts
from momentsync.settings import ProcessorSettings
from momentsync.tenants import TargetSystem, Tenant
from momentsync.wiring.processor import tenant_notifier

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def tenant(emails=("ops@acme.example",)) -> Tenant:
    return Tenant(
        tenant_id="acme",
        name="Acme AS",
        target=TargetSystem.FIKEN,
        moment_company_code="acme",
        notification_emails=list(emails),
        webhook_secret_hash="0" * 64,
        created_at=NOW,
        updated_at=NOW,
    )


class Throttle:
    def __init__(self, first=True):
        self.first = first
        self.claims, self.released = [], []

    def claim(self, tenant_id, dedupe_key, *, kind):
        self.claims.append((tenant_id, dedupe_key))
        return self.first

    def release(self, tenant_id, dedupe_key):
        self.released.append((tenant_id, dedupe_key))


class Ses:
    def __init__(self, error=None):
        self.sent, self.error = [], error

    def send_email(self, **kwargs):
        if self.error:
            raise self.error
        self.sent.append(kwargs)
        return {"MessageId": "x"}


def notify(notifier, who=None):
    notifier.notify(
        who or tenant(),
        kind="permanent_failure",
        subject="invoice 10001 was not transferred",
        message="VAT code 3 has no Fiken VAT type. Fix it in Moment.",
        dedupe_key="invoice#10001#VAT code 3",
    )


def test_first_occurrence_is_emailed_with_record_reason_and_remedy():
    ses, throttle = Ses(), Throttle()
    notify(SesNotifier(ses, "momentsync@example.com", throttle))
    [mail] = ses.sent
    assert mail["Source"] == "momentsync@example.com"
    assert mail["Destination"] == {"ToAddresses": ["ops@acme.example"]}
    assert mail["Message"]["Subject"]["Data"] == "invoice 10001 was not transferred"
    text = mail["Message"]["Body"]["Text"]["Data"]
    assert "VAT code 3" in text and "Fix it in Moment" in text and "Acme AS" in text


def test_a_repeat_within_the_window_is_not_emailed():
    ses = Ses()
    notify(SesNotifier(ses, "momentsync@example.com", Throttle(first=False)))
    assert ses.sent == []


def test_no_recipients_means_log_only_and_no_claim():
    ses, throttle = Ses(), Throttle()
    notify(SesNotifier(ses, "momentsync@example.com", throttle), tenant(emails=()))
    assert ses.sent == [] and throttle.claims == []


def test_an_ses_failure_releases_the_claim_and_does_not_raise():
    throttle = Throttle()
    notify(SesNotifier(Ses(error=RuntimeError("throttled")), "momentsync@example.com", throttle))
    assert throttle.released == [("acme", "invoice#10001#VAT code 3")]


def test_an_sns_failure_does_not_raise_and_is_logged_without_the_message(caplog):
    class BrokenSns:
        def __init__(self):
            self.attempts = []

        def publish(self, **kwargs):
            self.attempts.append(kwargs)
            raise RuntimeError("sns down")

    sns = BrokenSns()
    SnsOperatorAlerts(sns, "arn:topic").dead_lettered(
        message_id="m",
        body="{}",
        tenant_id="acme",
        reason="VAT code 3 unknown",
        error_class="E",
        receive_count=1,
    )
    # The publish was tried (with the reason), failed, and the failure reached the log, not the caller.
    [attempt] = sns.attempts
    assert attempt["TopicArn"] == "arn:topic" and "VAT code 3 unknown" in attempt["Message"]
    [record] = [r for r in caplog.records if r.name == "momentsync"]
    assert (record.levelname, record.getMessage()) == ("ERROR", "operator alert not published")
    assert (record.tenant_id, record.error_type) == ("acme", "RuntimeError")
    assert "VAT code 3" not in json.dumps(vars(record), default=str)  # the alert's text is not logged


def test_ses_is_used_only_when_a_sender_is_configured(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    base = {
        "tenants_table": "t",
        "event_queue_url": "q",
        "dead_letter_queue_url": "d",
        "sync_state_table": "s",
        "transfer_log_table": "l",
        "parked_events_table": "p",
        "credentials_secret_prefix": "c",
        "fiken_app_secret_id": "f",
        "auth_table": "a",
        "sparebank1_app_secret_id": "b",
        "notifications_table": "n",
    }

    class Dynamo:
        def Table(self, name):  # noqa: N802 - boto3's name
            return name

    assert isinstance(tenant_notifier(ProcessorSettings(**base), Dynamo()), LogNotifier)
    with_sender = ProcessorSettings(**base, notification_sender="momentsync@example.com")
    assert isinstance(tenant_notifier(with_sender, Dynamo()), SesNotifier)
