"""The operator CLI against the local stack (`--local`, state file from ``stack.describe()``):
tables for people, ``--json`` for scripts, exit codes, audit of every change.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.aws.dead_letters import SqsDeadLetters
from momentsync.aws.parking import DynamoParkedEvents
from momentsync.aws.sync_state import DynamoSyncState
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.cli.main import app
from momentsync.credentials import OAuthTokens
from momentsync.envelope import QueueEnvelope
from momentsync.sync.sync_state import SyncLink
from momentsync.sync.transfer_log import Outcome, TransferLogEntry
from momentsync.tenants import TenantStatus

NOW = datetime.now(UTC)


@pytest.fixture
def cli(paused_stack, tmp_path, monkeypatch):
    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps(paused_stack.describe()))
    monkeypatch.setenv("MOMENTSYNC_LOCAL_STATE", str(state))
    runner = CliRunner()

    def run(*args: str, code: int = 0, stdin: str | None = None):
        result = runner.invoke(app, ["--local", *args], input=stdin)
        assert result.exit_code == code, (result.exit_code, result.output)
        return result

    def run_json(*args: str, code: int = 0, stdin: str | None = None):
        return json.loads(run("--json", *args, code=code, stdin=stdin).stdout)

    run.json = run_json  # type: ignore[attr-defined]
    return run


def table(stack, logical_id: str):
    return stack.aws.resource("dynamodb").Table(stack.physical(logical_id))


def event(tenant_id: str, entity_id: int, entity_type: str = "invoice") -> QueueEnvelope:
    return QueueEnvelope(
        event_id=f"evt-{uuid.uuid4().hex[:12]}",
        tenant_id=tenant_id,
        entity_type=entity_type,
        entity_id=entity_id,
        moment_event="UPDATE",
        # Received in id order, so arrival order is known.
        received_at=NOW + timedelta(seconds=entity_id),
        payload={},
    )


def connect_to_fiken(stack, tenant_id: str) -> None:
    """What the OAuth callback stores: Fiken's tokens beside the Moment key."""
    store = SecretsManagerCredentialsStore(
        stack.aws.client("secretsmanager"), stack.environment["CREDENTIALS_SECRET_PREFIX"]
    )
    tokens = OAuthTokens(
        access_token=SecretStr("access"),
        refresh_token=SecretStr("refresh"),
        expires_at=NOW + timedelta(hours=1),
    )
    store.put(tenant_id, store.get(tenant_id, fresh=True).model_copy(update={"fiken": tokens}))


def test_status_counts_connection_parked_and_backlog(paused_stack, make_tenant, cli):
    tenant_id = make_tenant().tenant.tenant_id
    state = DynamoSyncState(table(paused_stack, "SyncStateTable"))
    for moment_id, outcome in [(1, "synced"), (2, "synced"), (3, "waiting"), (4, "failed")]:
        state.save(
            SyncLink(
                tenant_id=tenant_id,
                entity_type="customer",
                moment_id=moment_id,
                last_outcome=outcome,
                last_success_at=NOW - timedelta(hours=moment_id) if outcome == "synced" else None,
                last_error="org number invalid" if outcome == "failed" else None,
                last_error_at=NOW if outcome == "failed" else None,
            )
        )
    DynamoParkedEvents(table(paused_stack, "ParkedEventsTable")).park(event(tenant_id, 9), "tenant is paused")

    data = cli.json("status", tenant_id)

    report = data["tenant"]
    customers = next(e for e in report["entities"] if e["entity_type"] == "customer")
    assert (customers["synced"], customers["waiting"], customers["failed"]) == (2, 1, 1)
    assert customers["last_error"] == "org number invalid" and customers["last_error_moment_id"] == 4
    assert customers["last_success_at"] is not None  # kept apart from the error
    # Never connected to Fiken: not "ok" (issue 16); it is once its secret holds Fiken's tokens.
    assert (report["connection"], report["parked"]) == ("not_connected", 1)
    connect_to_fiken(paused_stack, tenant_id)
    assert cli.json("status", tenant_id)["tenant"]["connection"] == "ok"
    assert data["backlog"]["oldest_message_age_seconds"] is None  # no CloudWatch locally
    assert data["backlog"]["event_queue"] == {"visible": 0, "in_flight": 0, "total": 0}
    assert "unavailable" in cli("status", tenant_id).stdout
    overview = cli.json("status")
    assert tenant_id in {t["tenant_id"] for t in overview["tenants"]}
    cli("status", "no-such-tenant", code=3)


def test_log_filters_and_validates(paused_stack, make_tenant, cli):
    tenant_id = make_tenant().tenant.tenant_id
    log = DynamoTransferLog(table(paused_stack, "TransferLogTable"), timedelta(days=1))
    for i, outcome in enumerate([Outcome.SYNCED, Outcome.FAILED, Outcome.SYNCED]):
        log.record(
            TransferLogEntry(
                tenant_id=tenant_id,
                event_id=f"e{i}",
                entity_type="customer" if i < 2 else "invoice",
                entity_id=i,
                outcome=outcome,
                logged_at=NOW - timedelta(minutes=10 - i),
                reason="bad VAT" if outcome is Outcome.FAILED else None,
            )
        )

    assert [e["event_id"] for e in cli.json("log", tenant_id)] == ["e2", "e1", "e0"]
    assert [e["event_id"] for e in cli.json("log", tenant_id, "--outcome", "failed")] == ["e1"]
    assert [e["event_id"] for e in cli.json("log", tenant_id, "--entity", "invoice")] == ["e2"]
    assert [e["event_id"] for e in cli.json("log", tenant_id, "--limit", "1")] == ["e2"]
    assert cli.json("log", tenant_id, "--since", "1m") == []
    assert "bad VAT" in cli("log", tenant_id).stdout
    cli("log", tenant_id, "--outcome", "exploded", code=2)
    cli("log", "no-such-tenant", code=3)


def test_tenant_lifecycle_is_audited_and_resume_requeues_parked_events(paused_stack, make_tenant, cli):
    tenant_id = make_tenant().tenant.tenant_id
    tenants = DynamoTenantRepository(table(paused_stack, "TenantsTable"))
    parked = DynamoParkedEvents(table(paused_stack, "ParkedEventsTable"))

    assert cli.json("tenants", "pause", tenant_id, "--reason", "year-end closing")["status"] == "paused"
    for moment_id in (1, 2):
        parked.park(event(tenant_id, moment_id), "tenant is paused")
    resumed = cli.json("tenants", "resume", tenant_id)
    assert (resumed["status"], resumed["resumed_events"]) == ("active", 2)
    assert parked.count(tenant_id) == 0
    sqs = paused_stack.aws.client("sqs")
    queued = sqs.receive_message(QueueUrl=paused_stack.physical("EventQueue"), MaxNumberOfMessages=10)[
        "Messages"
    ]
    assert [QueueEnvelope.from_message_body(m["Body"]).entity_id for m in queued] == [1, 2]  # arrival order
    for message in queued:
        sqs.delete_message(
            QueueUrl=paused_stack.physical("EventQueue"), ReceiptHandle=message["ReceiptHandle"]
        )

    cli("tenants", "disable", tenant_id, stdin="n\n", code=1)  # declined: nothing changes
    assert tenants.require(tenant_id).status is TenantStatus.ACTIVE
    cli("tenants", "disable", tenant_id, "--yes")
    assert tenants.require(tenant_id).status is TenantStatus.DISABLED
    cli("tenants", "pause", tenant_id, code=2)  # only an active tenant can be paused
    assert tenant_id in {t["tenant_id"] for t in cli.json("tenants", "list")}

    actions = [r["action"] for r in cli.json("audit", "--tenant", tenant_id)]
    assert actions[:3] == ["tenant.disable", "tenant.resume", "tenant.pause"]  # newest first
    [pause] = [r for r in cli.json("audit", "--tenant", tenant_id) if r["action"] == "tenant.pause"]
    assert pause["actor"].startswith("local:") and pause["details"]["reason"] == "year-end closing"
    assert any(r["tenant_id"] == tenant_id for r in cli.json("audit", "--since", "1h"))
    cli("tenants", "resume", "no-such-tenant", code=3)


def test_disconnect_says_what_it_did_to_the_fiken_access_and_prints_no_webhook_url(
    paused_stack, make_tenant, cli
):
    """Found by mypy: disconnect handed its outcome to show_tenant as the webhook URL, so --json carried
    ``"webhook_url": {"fiken_access": ...}`` and the table announced a webhook URL "shown only now"."""
    tenant_id = make_tenant().tenant.tenant_id  # never connected: Fiken has no grant to revoke

    shown = cli.json("tenants", "disconnect", tenant_id, "--yes")

    assert "webhook_url" not in shown
    assert (shown["status"], shown["fiken_access"]) == ("disabled", "Fiken had no live grant to revoke")
    table_output = cli("tenants", "disconnect", tenant_id, "--yes").output
    assert "Fiken had no live grant to revoke" in table_output
    assert "webhook URL" not in table_output


def test_settings_are_validated_shown_and_audited(paused_stack, make_tenant, cli):
    tenant_id = make_tenant().tenant.tenant_id

    changed = cli.json(
        "tenants", "settings", tenant_id,
        "--add-email", "regnskap@acme.example",
        "--invoice-mode", "sale",
        "--vat-code", "3=HIGH",
        "--account", "3000=3001",
        "--bank-account", "1234.56.78903",
    )  # fmt: skip
    settings = changed["settings"]
    assert settings["notification_emails"] == ["regnskap@acme.example"]
    assert (settings["invoice_mode"], settings["bank_account_number"]) == ("sale", "12345678903")
    assert settings["vat_code_overrides"] == {"3": "HIGH"} and settings["account_overrides"] == {
        "3000": "3001"
    }
    assert changed["changed"]["invoice_mode"] == {"from": "invoice", "to": "sale"}
    assert cli.json("tenants", "settings", tenant_id)["invoice_mode"] == "sale"

    cli("tenants", "settings", tenant_id, "--bank-account", "123", code=2)
    cli("tenants", "settings", tenant_id, "--add-email", "not-an-address", code=2)
    cli("tenants", "settings", tenant_id, "--vat-code", "HIGH", code=2)
    cli("tenants", "settings", tenant_id, "--account", "abc=3001", code=2)

    result = cli("tenants", "settings", tenant_id, "--moment-api-key-stdin", stdin="new-moment-key-123\n")
    assert "new-moment-key-123" not in result.output
    actions = [r["action"] for r in cli.json("audit", "--tenant", tenant_id)]
    assert actions.count("tenant.settings") == 1 and "tenant.moment_api_key" in actions
    assert "new-moment-key-123" not in json.dumps(cli.json("audit", "--tenant", tenant_id))


def test_dlq_list_show_and_replay(paused_stack, make_tenant, cli):
    tenant_id = make_tenant().tenant.tenant_id
    dead_letters = SqsDeadLetters(paused_stack.aws.client("sqs"), paused_stack.physical("DeadLetterQueue"))
    for moment_id in (11, 12, 13):
        envelope = event(tenant_id, moment_id)
        dead_letters.send(
            body=envelope.to_message_body(),
            tenant_id=tenant_id,
            reason=f"Fiken 400 on invoice {moment_id}",
            error_class="PermanentError",
            entity_type="invoice",
            event_id=envelope.event_id,
        )

    listed = cli.json("dlq", "list", "--tenant", tenant_id)["dead_letters"]
    assert [d["entity_id"] for d in listed] == [11, 12, 13]
    assert len(cli.json("dlq", "list", "--tenant", tenant_id)["dead_letters"]) == 3  # still there
    assert "3 matching of 3 read" in cli("dlq", "list", "--tenant", tenant_id).stdout
    assert cli.json("dlq", "list", "--reason", "invoice 12")["dead_letters"][0]["entity_id"] == 12
    shown = cli.json("dlq", "show", listed[0]["message_id"])
    assert shown["envelope"]["entity_id"] == 11 and shown["reason"] == "Fiken 400 on invoice 11"
    cli("dlq", "show", "no-such-id", code=3)
    cli("dlq", "list", "--type", "offer", code=2)

    plan = cli.json("dlq", "replay", "--tenant", tenant_id)
    assert (plan["dry_run"], plan["would_replay"], plan["succeeded"]) == (True, 3, 0)
    done = cli.json("dlq", "replay", "--tenant", tenant_id, "--max", "2", "--execute", "--yes")
    assert (done["dry_run"], done["succeeded"], done["failed"]) == (False, 2, 0)
    assert [d["entity_id"] for d in cli.json("dlq", "list", "--tenant", tenant_id)["dead_letters"]] == [13]
    assert [r["action"] for r in cli.json("audit", "--tenant", tenant_id)].count("dlq.replay") == 2
    cli("dlq", "replay", "--all", "--tenant", tenant_id, code=2)  # --all takes no filters
    assert cli.json("dlq", "replay", "--all")["method"] == "StartMessageMoveTask"  # dry run: no task


def test_resync_by_ids_queues_fresh_events(paused_stack, make_tenant, cli):
    tenant_id = make_tenant().tenant.tenant_id

    report = cli.json("resync", tenant_id, "--entity", "customer", "--ids", "5,6", "--ids", "6")

    assert (report["sent"], report["failed"]) == (2, 0)
    sqs = paused_stack.aws.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=paused_stack.physical("EventQueue"), MaxNumberOfMessages=10, AttributeNames=["All"]
    )["Messages"]
    envelopes = [QueueEnvelope.from_message_body(m["Body"]) for m in messages]
    assert [(e.entity_id, e.origin) for e in envelopes] == [(5, "resync"), (6, "resync")]
    assert {m["Attributes"]["MessageGroupId"] for m in messages} == {tenant_id}
    for message in messages:
        sqs.delete_message(
            QueueUrl=paused_stack.physical("EventQueue"), ReceiptHandle=message["ReceiptHandle"]
        )
    assert "tenant.resync" in [r["action"] for r in cli.json("audit", "--tenant", tenant_id)]
    cli("resync", tenant_id, "--entity", "customer", code=2)  # neither --ids nor --since
    cli("resync", tenant_id, "--entity", "offer", "--ids", "1", code=2)
    cli("resync", tenant_id, "--entity", "customer", "--ids", "x1", code=2)
    cli("resync", "no-such-tenant", "--entity", "customer", "--ids", "1", code=3)


def test_resync_since_lists_changed_records_from_moment(paused_stack, make_tenant, moment_emulator, cli):
    company, key = f"c{uuid.uuid4().hex[:8]}", f"moment-key-{uuid.uuid4().hex}"
    moment_emulator.add_api_key(company, key)
    tenant_id = make_tenant(moment_company_code=company, moment_api_key=key).tenant.tenant_id
    moment_emulator.create_customer(company, name="Old AS")
    changed = moment_emulator.create_customer(company, name="New AS")
    since = changed.last_modified.isoformat()

    plan = cli.json("resync", tenant_id, "--entity", "customer", "--since", since, "--dry-run")
    assert plan["ids"] == [changed.id]
    report = cli.json("resync", tenant_id, "--entity", "customer", "--since", since)
    assert (report["sent"], report["sent_ids"]) == (1, [changed.id])
    sqs = paused_stack.aws.client("sqs")
    [message] = sqs.receive_message(QueueUrl=paused_stack.physical("EventQueue"))["Messages"]
    sqs.delete_message(QueueUrl=paused_stack.physical("EventQueue"), ReceiptHandle=message["ReceiptHandle"])
    [audited] = [r for r in cli.json("audit", "--tenant", tenant_id) if r["action"] == "tenant.resync"]
    assert audited["details"]["selection"].startswith("modified since")


def test_connect_url_needs_an_organisation_number_or_a_confirmed_company_and_lives_at_most_72_hours(
    paused_stack, make_tenant, cli
):
    tenant_id = make_tenant(fiken_company_slug=None).tenant.tenant_id  # no organisation number

    refused = cli("tenants", "connect-url", tenant_id, code=2)
    assert "--organization-number" in refused.output and "--allow-company" in refused.output
    cli("tenants", "connect-url", tenant_id, "--organization-number", "12345", code=2)
    cli(
        "tenants",
        "connect-url",
        tenant_id,
        "--organization-number",
        "912345688",
        "--valid-hours",
        "73",
        code=2,
    )

    link = cli.json("tenants", "connect-url", tenant_id, "--organization-number", "912 345 688")
    tenants = DynamoTenantRepository(table(paused_stack, "TenantsTable"))
    assert tenants.get(tenant_id).organization_number == "912345688"
    hours = (datetime.fromisoformat(link["expires_at"]) - datetime.now(UTC)).total_seconds() / 3600
    assert 23.9 < hours <= 24  # the default is a day, not three

    other = make_tenant(fiken_company_slug=None).tenant.tenant_id
    confirmed = cli.json("tenants", "connect-url", other, "--allow-company", "holding-as")
    assert confirmed["url"].startswith(paused_stack.webhook_base_url)


def test_migrate_secrets_copies_stage_named_secrets_to_the_stack_named_ones_without_overwriting(
    paused_stack, make_tenant, cli
):
    secrets = paused_stack.aws.client("secretsmanager")
    new_prefix = paused_stack.environment["CREDENTIALS_SECRET_PREFIX"]
    assert "momentsync-local" in new_prefix  # named after the stack, not the stage
    old_prefix = f"momentsync/old-{uuid.uuid4().hex[:6]}/tenants"
    moved = make_tenant().tenant.tenant_id
    live = make_tenant().tenant.tenant_id
    for tenant_id, key in ((moved, "old-key-moved"), (live, "old-key-live")):
        secrets.create_secret(
            Name=f"{old_prefix}/{tenant_id}", SecretString=json.dumps({"moment_api_key": key})
        )
    live_value = secrets.get_secret_value(SecretId=f"{new_prefix}/{live}")["SecretString"]
    secrets.delete_secret(SecretId=f"{new_prefix}/{moved}", ForceDeleteWithoutRecovery=True)

    rows = {r["tenant_id"]: r for r in cli.json("tenants", "migrate-secrets", "--from-prefix", old_prefix)}

    assert rows[moved]["result"] == "copied" and rows[live]["result"] == "already_there"
    assert json.loads(secrets.get_secret_value(SecretId=f"{new_prefix}/{moved}")["SecretString"]) == {
        "moment_api_key": "old-key-moved"
    }
    assert secrets.get_secret_value(SecretId=f"{new_prefix}/{live}")["SecretString"] == live_value
    cli("tenants", "migrate-secrets", "--from-prefix", new_prefix, code=2)


def test_tenants_add_refuses_an_unknown_sparebank1_bank_before_storing_anything(paused_stack, cli):
    refused = cli(
        "tenants",
        "add",
        "sb1-unknown",
        "--name",
        "X AS",
        "--moment-company",
        "x",
        "--target",
        "sparebank1",
        "--sparebank1-bank",
        "nobank",
        "--sparebank1-company-key",
        "3f1c9a52-7d4e-4b8a-9c21-5e6f7a8b9c0d",
        "--moment-api-key-stdin",
        stdin="k\n",
        code=2,
    )
    assert "unknown SpareBank 1 bank" in refused.output
    assert DynamoTenantRepository(table(paused_stack, "TenantsTable")).get("sb1-unknown") is None


def test_adding_a_tenant_offers_the_backfill_for_records_from_before_its_webhooks(cli):
    tenant_id = f"bf-{uuid.uuid4().hex[:8]}"
    added = cli(
        "tenants",
        "add",
        tenant_id,
        "--name",
        "Ny AS",
        "--moment-company",
        "nyas",
        "--moment-api-key-stdin",
        stdin="moment-key\n",
    ).output  # fmt: skip; the offer is a hint, on stderr
    assert f"momentsync backfill {tenant_id} --dry-run" in " ".join(added.split())
    sb1 = f"sb-{uuid.uuid4().hex[:8]}"
    added = cli(
        "tenants",
        "add",
        sb1,
        "--name",
        "Bank AS",
        "--moment-company",
        "bankas",
        "--target",
        "sparebank1",
        "--sparebank1-bank",
        "test",
        "--sparebank1-company-key",
        "3f1c9a52-7d4e-4b8a-9c21-5e6f7a8b9c0d",
        "--moment-api-key-stdin",
        stdin="moment-key\n",
    ).output  # fmt: skip; the offer is a hint, on stderr
    # SpareBank 1 tenants are offered the same backfill (it adopts what their books hold too).
    assert f"momentsync backfill {sb1} --dry-run" in " ".join(added.split())


def test_migrate_secrets_fills_a_secret_written_during_the_gap_and_never_deletes_what_it_lacks(
    paused_stack, make_tenant, cli
):
    """Attack (#20): between the deploy and the migration a reconnect stores its Fiken tokens at the new
    name (alone: the connect flow found no secret there), or an operator sets the Moment key. Before, the
    migration answered already_there and skipped the tenant (its Moment key never arrived: paused for
    good), and --delete-old then force-deleted the only copy of the key."""
    secrets = paused_stack.aws.client("secretsmanager")
    new_prefix = paused_stack.environment["CREDENTIALS_SECRET_PREFIX"]
    old_prefix = f"momentsync/old-{uuid.uuid4().hex[:6]}/tenants"
    old_grant = {"access_token": "old-at", "refresh_token": "old-rt", "expires_at": "2030-01-01T00:00:00Z"}
    new_grant = {"access_token": "new-at", "refresh_token": "new-rt", "expires_at": "2030-01-02T00:00:00Z"}
    reconnected = make_tenant().tenant.tenant_id  # a reconnect during the gap: new tokens, no key
    keyed = make_tenant().tenant.tenant_id  # the operator set the same key during the gap
    for tenant_id in (reconnected, keyed):
        secrets.create_secret(
            Name=f"{old_prefix}/{tenant_id}",
            SecretString=json.dumps({"moment_api_key": f"key-{tenant_id}", "fiken": old_grant}),
        )
    secrets.put_secret_value(
        SecretId=f"{new_prefix}/{reconnected}", SecretString=json.dumps({"fiken": new_grant})
    )
    secrets.put_secret_value(
        SecretId=f"{new_prefix}/{keyed}", SecretString=json.dumps({"moment_api_key": f"key-{keyed}"})
    )

    rows = {
        r["tenant_id"]: r
        for r in cli.json("tenants", "migrate-secrets", "--from-prefix", old_prefix, "--delete-old")
    }

    live = json.loads(secrets.get_secret_value(SecretId=f"{new_prefix}/{reconnected}")["SecretString"])
    assert live["moment_api_key"] == f"key-{reconnected}"  # filled in
    assert live["fiken"]["refresh_token"] == "new-rt"  # the live grant is never replaced
    # The old secret holds another grant: kept for the operator, never force-deleted.
    assert rows[reconnected]["result"] == "merged" and rows[reconnected]["old_deleted"] is False
    assert secrets.get_secret_value(SecretId=f"{old_prefix}/{reconnected}")["SecretString"]
    live = json.loads(secrets.get_secret_value(SecretId=f"{new_prefix}/{keyed}")["SecretString"])
    assert live["moment_api_key"] == f"key-{keyed}" and live["fiken"]["refresh_token"] == "old-rt"
    assert rows[keyed]["result"] == "merged" and rows[keyed]["old_deleted"] is True


def test_migrating_a_secret_waits_for_a_token_refresh_and_never_puts_back_a_spent_refresh_token(
    paused_stack, make_tenant, cli
):
    """The migration merges the old secret's fields into the live one: a read-modify-write of the whole
    secret. Without the token lease a processor's refresh landing between its read and its write (a
    rotated, single-use refresh token) was overwritten by the migration's stale read: the tenant's next
    refresh spends a dead token and it needs re-authorisation. The refresh is forced between the two."""
    import threading

    from momentsync.aws.leases import DynamoLeaseLock
    from momentsync.connectors.fiken.tokens import token_lease_name
    from momentsync.credentials import TenantCredentials
    from momentsync.operations.secret_migration import Migration, migrate_tenant_secrets

    secrets = paused_stack.aws.client("secretsmanager")
    new_prefix = paused_stack.environment["CREDENTIALS_SECRET_PREFIX"]
    old_prefix = f"momentsync/old-{uuid.uuid4().hex[:6]}/tenants"
    tenant_id = make_tenant(moment_api_key=None).tenant.tenant_id
    grant = {"access_token": "at-1", "refresh_token": "rt-1", "expires_at": "2030-01-01T00:00:00Z"}
    secrets.create_secret(
        Name=f"{old_prefix}/{tenant_id}", SecretString=json.dumps({"moment_api_key": "key", "fiken": grant})
    )
    secrets.create_secret(Name=f"{new_prefix}/{tenant_id}", SecretString=json.dumps({"fiken": grant}))
    leases = DynamoLeaseLock(table(paused_stack, "AuthTable"), wait_seconds=10, poll_seconds=0.05)
    processor_store = SecretsManagerCredentialsStore(secrets, new_prefix)
    refreshed = threading.Event()

    def refreshing_processor() -> None:
        with leases.hold(token_lease_name(tenant_id)):
            stored = processor_store.get(tenant_id, fresh=True)
            rotated = OAuthTokens(access_token="at-2", refresh_token="rt-2", expires_at=datetime.now(UTC))
            processor_store.put(tenant_id, stored.model_copy(update={"fiken": rotated}))
        refreshed.set()

    class RefreshAfterRead(SecretsManagerCredentialsStore):
        """The live store, with a processor's refresh let in right after the migration's read."""

        processor: threading.Thread | None = None

        def get(self, tenant_id: str, *, fresh: bool = False) -> TenantCredentials:
            read = super().get(tenant_id, fresh=fresh)
            if self.processor is None:
                self.processor = threading.Thread(target=refreshing_processor)
                self.processor.start()
                refreshed.wait(1.0)  # done at once when nothing holds the lease; else it waits for us
            return read

    live = RefreshAfterRead(secrets, new_prefix)
    results = migrate_tenant_secrets(
        tenants=_OneTenant(DynamoTenantRepository(table(paused_stack, "TenantsTable")), tenant_id),
        old=SecretsManagerCredentialsStore(secrets, old_prefix),
        new=live,
        leases=leases,
    )
    assert live.processor is not None
    live.processor.join(20)

    assert [r.result for r in results] == [Migration.MERGED]
    after = json.loads(secrets.get_secret_value(SecretId=f"{new_prefix}/{tenant_id}")["SecretString"])
    assert after["moment_api_key"] == "key"
    assert after["fiken"]["refresh_token"] == "rt-2"  # the rotated one, not the spent rt-1


class _OneTenant:
    """The stack's tenants table as the migration lists it, narrowed to one tenant (others are other
    tests' and have no old secret here)."""

    def __init__(self, tenants: DynamoTenantRepository, tenant_id: str) -> None:
        self._tenants, self._tenant_id = tenants, tenant_id

    def list(self):
        return [self._tenants.require(self._tenant_id)]


@pytest.mark.parametrize(
    "typo",
    [
        "912345689",  # one digit off: the MOD11 check digit says so
        "912345868",  # two digits swapped
        "912345670",  # 9 digits, no valid check digit
        "\u0669\u0661\u0662\u0663\u0664\u0665\u0666\u0668\u0668",  # Arabic-Indic digits (\\d took them)
        "\uff19\uff11\uff12\uff13\uff14\uff15\uff16\uff18\uff18",  # fullwidth digits
        "NO912345688MVA",
    ],
)
def test_an_organisation_number_with_a_typo_is_refused_before_a_link_binds_to_it(
    paused_stack, make_tenant, cli, typo
):
    """Attack (#20, weak spot 6): the number a link binds to was only checked for 9 digits (any Unicode
    digit): a typo bound the link to a number no company has (nothing could ever be linked) or to
    another organisation's company."""
    tenant_id = make_tenant(fiken_company_slug=None).tenant.tenant_id
    refused = cli("tenants", "connect-url", tenant_id, "--organization-number", typo, code=2)
    assert "organisation number" in refused.output
    assert (
        DynamoTenantRepository(table(paused_stack, "TenantsTable")).get(tenant_id).organization_number is None
    )


def test_setting_the_moment_key_waits_for_a_token_refresh_in_flight_and_loses_neither(
    paused_stack, make_tenant, cli
):
    """Attack (#20): the tenant's secret holds the Moment key, the Fiken tokens and a connect's waiting
    grant; every Fiken writer takes the token lease, but 'tenants settings --moment-api-key-stdin' wrote
    the whole secret without it. A processor refreshing meanwhile (rotated, single-use refresh token)
    wrote its stale read over the new key, or the key write put back a spent refresh token."""
    import threading

    from momentsync.aws.credentials import SecretsManagerCredentialsStore
    from momentsync.aws.leases import DynamoLeaseLock
    from momentsync.connectors.fiken.tokens import token_lease_name
    from momentsync.credentials import OAuthTokens

    tenant_id = make_tenant().tenant.tenant_id
    store = SecretsManagerCredentialsStore(
        paused_stack.aws.client("secretsmanager"), paused_stack.environment["CREDENTIALS_SECRET_PREFIX"]
    )
    leases = DynamoLeaseLock(table(paused_stack, "AuthTable"))
    read, done = threading.Event(), threading.Event()

    def refreshing_processor() -> None:
        with leases.hold(token_lease_name(tenant_id)):
            stored = store.get(tenant_id, fresh=True)
            read.set()
            done.wait(1.5)  # Fiken's token call
            rotated = OAuthTokens(
                access_token="rotated-at", refresh_token="rotated-rt", expires_at=datetime.now(UTC)
            )
            store.put(tenant_id, stored.model_copy(update={"fiken": rotated}))

    processor = threading.Thread(target=refreshing_processor)
    processor.start()
    assert read.wait(10)
    cli("tenants", "settings", tenant_id, "--moment-api-key-stdin", stdin="rotated-moment-key\n")
    done.set()
    processor.join(10)

    after = store.get(tenant_id, fresh=True)
    assert after.moment_api_key.get_secret_value() == "rotated-moment-key"
    assert after.fiken is not None and after.fiken.refresh_token.get_secret_value() == "rotated-rt"
