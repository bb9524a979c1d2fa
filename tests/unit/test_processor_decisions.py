"""The processor's one decision table, with in-memory fakes for every port."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from momentsync.envelope import QueueEnvelope
from momentsync.errors import PermanentError, TenantLevelError, TenantProblem, TransientError, WaitingError
from momentsync.sync.processor import EventProcessor, SyncResult
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TargetSystem, Tenant, TenantConflict, TenantStatus

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class Tenants:
    def __init__(self, *tenants: Tenant) -> None:
        self.items = {t.tenant_id: t for t in tenants}
        self.conflicts_left = 0

    def get(self, tenant_id):
        tenant = self.items.get(tenant_id)
        return tenant.model_copy(deep=True) if tenant else None

    def save(self, tenant):
        if self.conflicts_left:
            self.conflicts_left -= 1
            raise TenantConflict("changed")
        self.items[tenant.tenant_id] = tenant.model_copy(update={"version": tenant.version + 1})
        return self.items[tenant.tenant_id]


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))

    record = park = release = notify = __call__

    def send(self, **kwargs):
        self.calls.append(((), kwargs))
        return "dlq-message-id"


def tenant(status=TenantStatus.ACTIVE) -> Tenant:
    return Tenant(
        tenant_id="acme",
        name="Acme",
        target=TargetSystem.FIKEN,
        moment_company_code="acme",
        status=status,
        webhook_secret_hash="0" * 64,
        created_at=NOW,
        updated_at=NOW,
    )


def envelope(entity_type="customer") -> QueueEnvelope:
    return QueueEnvelope(
        event_id="evt-1",
        tenant_id="acme",
        entity_type=entity_type,
        entity_id=7,
        moment_event="UPDATE",
        received_at=NOW,
        payload={},
    )


def build(use_case, tenants=None, max_receive_count=5, parked=None):
    log, dlq, notifier, failures = Recorder(), Recorder(), Recorder(), Recorder()
    parked = parked or Recorder()
    processor = EventProcessor(
        tenants=tenants or Tenants(tenant()),
        use_cases={"customer": use_case},
        transfer_log=log,
        parked=parked,
        dead_letters=dlq,
        notifier=notifier,
        record_failure=failures,
        max_receive_count=max_receive_count,
        clock=lambda: NOW,
    )
    return processor, log, parked, dlq, notifier, failures


def raising(error):
    def use_case(_envelope, _tenant):
        raise error

    return use_case


def test_success_is_logged_with_remote_id_and_calls():
    processor, log, parked, dlq, *_ = build(
        lambda e, t: SyncResult(Outcome.SYNCED, remote_id="55", remote_calls=2)
    )
    assert processor.process(envelope()) is Outcome.SYNCED
    [((entry,), _)] = log.calls
    assert (entry.outcome, entry.remote_id, entry.remote_calls) == (Outcome.SYNCED, "55", 2)
    assert parked.calls == dlq.calls == []


def test_waiting_is_an_outcome_not_a_failure():
    processor, log, _, dlq, *_ = build(raising(WaitingError("project has no start date")))
    assert processor.process(envelope()) is Outcome.WAITING
    assert log.calls[0][0][0].reason == "project has no start date"
    assert dlq.calls == []


def test_transient_error_is_reraised_for_sqs_to_retry():
    processor, log, _, dlq, *_ = build(raising(TransientError("fiken 503")))
    with pytest.raises(TransientError):
        processor.process(envelope(), receive_count=1)
    assert log.calls[0][0][0].outcome is Outcome.RETRYING
    assert dlq.calls == []


def test_transient_error_on_the_last_delivery_is_dead_lettered_with_its_reason():
    processor, _, _, dlq, _, failures = build(raising(TransientError("fiken 503")), max_receive_count=3)
    assert processor.process(envelope(), receive_count=3) is Outcome.FAILED
    [(_, sent)] = dlq.calls
    assert "fiken 503" in sent["reason"] and "3 deliveries" in sent["reason"]
    assert failures.calls


def test_permanent_error_is_dead_lettered_at_once_and_notified():
    processor, log, _, dlq, notifier, failures = build(raising(PermanentError("VAT code missing on 3000")))
    assert processor.process(envelope(), receive_count=1) is Outcome.FAILED
    [(_, sent)] = dlq.calls
    assert sent["reason"] == "VAT code missing on 3000"
    assert sent["error_class"] == "PermanentError"
    assert sent["tenant_id"] == "acme"
    assert notifier.calls and failures.calls
    assert log.calls[-1][0][0].outcome is Outcome.FAILED


def test_needs_reauth_flags_the_tenant_parks_the_event_and_notifies_once():
    tenants = Tenants(tenant())
    processor, _, parked, dlq, notifier, _ = build(
        raising(TenantLevelError(TenantProblem.NEEDS_REAUTH, "Fiken consent revoked")), tenants=tenants
    )
    assert processor.process(envelope()) is Outcome.PARKED
    assert tenants.items["acme"].status is TenantStatus.NEEDS_REAUTH
    assert len(parked.calls) == 1 and dlq.calls == []
    assert len(notifier.calls) == 1
    # The next event parks without calling the use case (the tenant is no longer active).
    assert processor.process(envelope()) is Outcome.PARKED
    assert len(parked.calls) == 2 and len(notifier.calls) == 1


def test_tenant_flag_survives_a_concurrent_tenant_change():
    tenants = Tenants(tenant())
    tenants.conflicts_left = 1
    processor, *_ = build(
        raising(TenantLevelError(TenantProblem.MODULE_MISSING, "402 project module")), tenants=tenants
    )
    processor.process(envelope())
    assert tenants.items["acme"].problems == {"module_missing": "402 project module"}


class ReconnectedDuringSave(Tenants):
    """The tenant store as a reconnect meets it: the first save conflicts because the tenant was just
    flagged and then reconnected by someone else (active again, a newer version)."""

    def save(self, tenant):
        if self.conflicts_left:
            self.conflicts_left = 0
            current = self.items[tenant.tenant_id]
            self.items[tenant.tenant_id] = current.model_copy(
                update={
                    "status": TenantStatus.ACTIVE,
                    "status_reason": "reconnected",
                    "version": current.version + 2,
                }
            )
            raise TenantConflict("changed")
        return super().save(tenant)


def test_a_stale_reauth_flag_does_not_undo_a_reconnect_made_meanwhile():
    tenants = ReconnectedDuringSave(tenant())
    tenants.conflicts_left = 1
    processor, *_ = build(
        raising(TenantLevelError(TenantProblem.NEEDS_REAUTH, "401 after refresh")), tenants=tenants
    )
    with pytest.raises(TransientError):  # active again: the event goes round once more, not parked
        processor.process(envelope())
    assert tenants.items["acme"].status is TenantStatus.ACTIVE


def test_a_problem_the_raiser_recorded_is_not_written_again_from_the_events_copy():
    tenants = Tenants(tenant())
    processor, _, parked, _, notifier, _ = build(
        raising(TenantLevelError(TenantProblem.NEEDS_REAUTH, "consent revoked", recorded=True)),
        tenants=tenants,
    )
    # The token provider flagged the tenant and a reconnect made it active again before the processor
    # got to it: the event is taken back for another delivery, and the tenant stays active.
    with pytest.raises(TransientError):
        processor.process(envelope())
    assert tenants.items["acme"].status is TenantStatus.ACTIVE
    assert len(parked.calls) == 2  # parked, then released
    assert len(notifier.calls) == 1


def test_an_event_parked_while_its_tenant_is_being_resumed_is_taken_back_for_another_delivery():
    class ResumedMeanwhile(Tenants):
        reads = 0

        def get(self, tenant_id):
            self.reads += 1
            found = super().get(tenant_id)
            return found.model_copy(update={"status": TenantStatus.PAUSED}) if self.reads == 1 else found

    class Parked:
        """Tells park from release (the shared Recorder cannot): the order is what this test is about."""

        def __init__(self):
            self.calls = []

        def park(self, parked_envelope, reason):
            self.calls.append(("park", parked_envelope.event_id, reason))

        def release(self, released_envelope):
            self.calls.append(("release", released_envelope.event_id))

    parked = Parked()
    processor, log, *_ = build(lambda e, t: None, tenants=ResumedMeanwhile(tenant()), parked=parked)
    with pytest.raises(TransientError, match="became active"):
        processor.process(envelope())
    # Parked because the tenant read as paused, then released at once because it is active now.
    assert parked.calls == [("park", "evt-1", "tenant is paused"), ("release", "evt-1")]
    assert log.calls[-1][0][0].outcome is Outcome.RETRYING


@pytest.mark.parametrize("status", [TenantStatus.PAUSED, TenantStatus.NEEDS_REAUTH])
def test_inactive_tenant_events_are_parked_without_remote_calls(status):
    called = []
    processor, _, parked, *_ = build(lambda e, t: called.append(e), tenants=Tenants(tenant(status)))
    assert processor.process(envelope()) is Outcome.PARKED
    assert called == [] and len(parked.calls) == 1


def test_unknown_tenant_is_dead_lettered():
    processor, _, _, dlq, *_ = build(lambda e, t: None, tenants=Tenants())
    assert processor.process(envelope()) is Outcome.FAILED
    assert "does not exist" in dlq.calls[0][1]["reason"]


def test_entity_without_a_sync_is_dead_lettered_with_the_reason():
    processor, _, _, dlq, *_ = build(lambda e, t: None)
    assert processor.process(envelope("invoice")) is Outcome.FAILED
    assert "invoice" in dlq.calls[0][1]["reason"]


def test_an_unclassified_failure_is_logged_retried_briefly_then_dead_lettered_with_its_reason():
    import decimal

    attempts = []

    def poison(_envelope, _tenant):
        attempts.append(1)
        raise decimal.Rounded([decimal.Rounded])

    processor, log, parked, dlq, _, failures = build(poison)
    pauses: list[float] = []
    processor.sleep = pauses.append

    assert processor.process(envelope(), receive_count=1) is Outcome.FAILED
    assert len(attempts) == 3 and pauses == [0.2, 1.0]  # bounded, short backoff, within one delivery
    outcomes = [call[0][0].outcome for call in log.calls]
    assert outcomes == [Outcome.RETRYING, Outcome.RETRYING, Outcome.FAILED]
    assert (
        log.calls[0][0][0].reason.startswith("Rounded: ") and "(attempt 1 of 3)" in log.calls[0][0][0].reason
    )
    [(_, sent)] = dlq.calls
    assert sent["error_class"] == "Rounded"
    assert sent["reason"].startswith("unexpected failure, gave up after 3 attempts: Rounded")
    assert failures.calls and parked.calls == []


def test_an_unclassified_failure_that_clears_on_a_retry_is_applied():
    calls = []

    def flaky(_envelope, _tenant):
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("customerName")
        return SyncResult(Outcome.SYNCED, remote_id="9")

    processor, log, _, dlq, *_ = build(flaky)
    processor.sleep = lambda _s: None
    assert processor.process(envelope()) is Outcome.SYNCED
    assert [c[0][0].outcome for c in log.calls] == [Outcome.RETRYING, Outcome.SYNCED]
    assert dlq.calls == []


def test_a_failure_is_still_dead_lettered_when_the_transfer_log_itself_fails():
    processor, log, _, dlq, *_ = build(raising(ValueError("boom")))
    processor.sleep = lambda _s: None

    def broken_log(_entry):
        raise RuntimeError("transfer log table unavailable")

    processor.transfer_log = type("Broken", (), {"record": staticmethod(broken_log)})()
    assert processor.process(envelope()) is Outcome.FAILED
    [(_, sent)] = dlq.calls
    assert "ValueError: boom" in sent["reason"]


@pytest.mark.parametrize(
    "message",
    [
        "GET https://user:hunter2@api.example/x failed",
        "401 for Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZ24",
        "refresh failed at https://fiken.example/token?refresh_token=abc123&x=1",
        "key a3f9c2e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2 leaked",
    ],
)
def test_the_safe_message_masks_what_could_be_a_credential(message):
    from momentsync.sync.failures import safe_message

    text = safe_message(RuntimeError(message))
    for secret in ("hunter2", "eyJhbGciOiJIUzI1NiJ9", "abc123", "a3f9c2e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2"):
        assert secret not in text
    assert text.startswith("RuntimeError: ") and "***" in text


def sqs_record(body: str, receive_count: int):
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    return SQSRecord(
        {
            "messageId": "m-1",
            "body": body,
            "attributes": {"ApproximateReceiveCount": str(receive_count), "MessageGroupId": "acme"},
        }
    )


class BrokenTenants(Tenants):
    def get(self, tenant_id):
        raise ConnectionError("tenants table unreachable")


@pytest.mark.parametrize(("receive_count", "dead_lettered"), [(1, False), (4, False), (5, True)])
def test_a_failure_outside_the_use_case_is_retried_by_sqs_then_dead_lettered_with_its_reason(
    receive_count, dead_lettered
):
    from momentsync.sync.records import handle_record

    processor, log, _, dlq, *_ = build(lambda e, t: SyncResult(Outcome.SYNCED), tenants=BrokenTenants())
    record = sqs_record(envelope().to_message_body(), receive_count)

    if not dead_lettered:
        with pytest.raises(ConnectionError):
            handle_record(record, processor=processor, dead_letters=dlq)
        assert dlq.calls == []
    else:
        assert handle_record(record, processor=processor, dead_letters=dlq) is Outcome.FAILED
        [(_, sent)] = dlq.calls
        assert sent["reason"] == "gave up after 5 deliveries: ConnectionError: tenants table unreachable"
        assert sent["error_class"] == "ConnectionError" and sent["event_id"] == "evt-1"
    [((entry,), _)] = log.calls  # every delivery's failure is in the transfer log
    assert entry.outcome is Outcome.RETRYING and entry.reason == "ConnectionError: tenants table unreachable"


def test_a_reason_quoting_characters_sqs_refuses_is_still_dead_lettered():
    from momentsync.aws.dead_letters import SqsDeadLetters

    sent = {}

    class Client:
        def send_message(self, **kwargs):
            sent.update(kwargs)
            return {"MessageId": "x"}

    SqsDeadLetters(Client(), "url").send(
        body="{}", tenant_id="acme", reason="Fiken refused name 'A\uffffS\x00'", error_class="PermanentError"
    )
    assert sent["MessageAttributes"]["reason"]["StringValue"] == "Fiken refused name 'A\ufffdS\ufffd'"
