"""Nothing secret reaches the logs over a whole pipeline run, including a token refresh and a failure."""

from __future__ import annotations

import base64
import json
from datetime import date
from decimal import Decimal

from emulators.moment.fixtures import make_line
from momentsync.aws.credentials import SecretsManagerCredentialsStore


def test_no_token_secret_or_key_in_any_log_line(make_pipeline, stack, capsys, caplog):
    pipeline = make_pipeline()
    store = SecretsManagerCredentialsStore(
        stack.aws.client("secretsmanager"), stack.environment["CREDENTIALS_SECRET_PREFIX"]
    )
    before = store.get(pipeline.tenant_id, fresh=True)
    pipeline.fiken.expire_access_tokens()  # forces a refresh with the refresh token and client secret

    customer = pipeline.driver.create_customer(name="Hemmelig AS", organization_number="912345670")
    project = pipeline.driver.create_project(name="Lukket", customer=customer.id, start_date=date(2026, 1, 5))
    pipeline.driver.finalize_invoice(
        customer=customer.id,
        project=project.id,
        lines=[make_line("3000", Decimal("2"), Decimal("950.00"), description="Timer")],
    )
    pipeline.fiken.fault_plan.script("status", times=2, method="GET", path="/contacts", status=500)
    pipeline.driver.update_customer(customer.id, name="Hemmelig og Sønn AS")
    pipeline.settle()

    after = store.get(pipeline.tenant_id, fresh=True)
    app_secret = json.loads(
        stack.aws.client("secretsmanager").get_secret_value(
            SecretId=stack.environment["FIKEN_APP_SECRET_ID"]
        )["SecretString"]
    )
    assert after.fiken.access_token.get_secret_value() != before.fiken.access_token.get_secret_value()
    secrets = {
        pipeline.driver.webhook_url.rsplit("/", 1)[1],
        before.moment_api_key.get_secret_value(),
        before.fiken.access_token.get_secret_value(),
        before.fiken.refresh_token.get_secret_value(),
        after.fiken.access_token.get_secret_value(),
        after.fiken.refresh_token.get_secret_value(),
        app_secret["client_secret"],
    }
    secrets |= {base64.b64encode(f"apikey:{before.moment_api_key.get_secret_value()}".encode()).decode()}
    captured = capsys.readouterr()
    output = captured.out + captured.err + caplog.text
    assert "event processed" in output  # the processor did log, so the scan below means something
    leaked = [s[:6] + "…" for s in secrets if s in output]
    assert leaked == []
