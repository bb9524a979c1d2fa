"""Connect takes effect at once (issue 14 item 4): no cached "no tokens" may turn a fresh connect
back into ``needs_reauth``. Before: 2 of 2 tries parked again when connected within 60 s of a park."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import httpx

from emulators.moment.webhook_driver import MomentWebhookDriver
from local.connect_browser import open_connect_link
from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.aws.one_time_tokens import DynamoOneTimeTokens
from momentsync.aws.parking import DynamoParkedEvents
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.connect.links import create_connect_link
from momentsync.onboarding import add_tenant
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TargetSystem, TenantStatus


def wait_for(condition, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_events_parked_before_a_connect_sync_when_it_follows_within_a_second(
    stack, fiken_emulator, moment_emulator
):
    aws, env = stack.aws, stack.environment
    tenants = DynamoTenantRepository(aws.resource("dynamodb").Table(env["TENANTS_TABLE"]))
    parked = DynamoParkedEvents(aws.resource("dynamodb").Table(env["PARKED_EVENTS_TABLE"]))
    transfer_log = DynamoTransferLog(
        aws.resource("dynamodb").Table(env["TRANSFER_LOG_TABLE"]), timedelta(days=1)
    )
    tag = uuid.uuid4().hex[:10]
    tenant_id, slug, company = f"t-{tag}", f"co-{tag}", f"m{tag}"
    fiken_emulator.add_company(slug, "Acme AS")
    moment_key = f"moment-{uuid.uuid4().hex}"
    moment_emulator.add_api_key(company, moment_key)
    _tenant, url = add_tenant(  # added, not connected to Fiken yet: its events park
        tenants=tenants,
        credentials=SecretsManagerCredentialsStore(
            aws.client("secretsmanager"), env["CREDENTIALS_SECRET_PREFIX"]
        ),
        webhook_base_url=stack.webhook_base_url,
        tenant_id=tenant_id,
        name="Acme AS",
        target=TargetSystem.FIKEN,
        moment_company_code=company,
        moment_api_key=moment_key,
    )
    with MomentWebhookDriver(moment_emulator, company, url.url, raise_on_error=True) as driver:
        customers = [driver.create_customer(name=f"Kunde {i} AS") for i in range(2)]
        assert wait_for(lambda: parked.count(tenant_id) == 2), "the events were not parked"
        assert tenants.get(tenant_id).status is TenantStatus.NEEDS_REAUTH

        fiken_emulator.set_consent(companies=[slug])
        try:
            link = create_connect_link(
                DynamoOneTimeTokens(aws.resource("dynamodb").Table(env["AUTH_TABLE"])),
                base_url=stack.webhook_base_url,
                tenant_id=tenant_id,
                ttl=timedelta(minutes=5),
                allow_company=slug,  # no organisation number on the tenant: the operator confirms the company
            )
            with httpx.Client(follow_redirects=True, timeout=30) as browser:
                # within a second of the park: the processor's cache is warm
                page = open_connect_link(browser, link.url)
        finally:
            fiken_emulator.set_consent(companies=None)
        assert page.status_code == 200 and "Connected to Fiken" in page.text, page.text

        assert stack.wait_until_idle(30)
        numbers = {c.get("memberNumberString") for c in fiken_emulator.contacts(slug)}
        assert numbers == {c.customer_number for c in customers}
        assert tenants.get(tenant_id).status is TenantStatus.ACTIVE
        assert parked.count(tenant_id) == 0
        synced = [e for e in transfer_log.query(tenant_id) if e.outcome is Outcome.SYNCED]
        assert {e.entity_id for e in synced} == {c.id for c in customers}
