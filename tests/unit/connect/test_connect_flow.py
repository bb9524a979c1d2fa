"""The Fiken connect flow (``connect/flow.py``) against in-memory fakes: the link is spent only by the
POST, the callback must come from the browser that started, only the tenant's own organisation is
linked, a reconnect never moves a tenant unasked, replaced grants are revoked, parked events resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from momentsync.connect.flow import (
    CompanyChoice,
    Connected,
    ConnectProblem,
    ConnectRefused,
    FikenCompany,
    FikenConnectFlow,
    NoCompanyWithApiAccess,
    NoMatchingCompany,
    disconnect_tenant,
)
from momentsync.connect.links import OneTimeTokenKind
from momentsync.connectors.fiken.tokens import token_lease_name
from momentsync.credentials import OAuthTokens, TenantCredentials
from momentsync.envelope import QueueEnvelope
from momentsync.tenants import TargetSystem, TenantStatus
from tests.fakes import InMemoryCredentials, InMemoryEventQueue, InMemoryParkedEvents, InMemoryTenants
from tests.fakes.connect import FixedCompanies, InMemoryFikenOAuth, InMemoryLeases, InMemoryOneTimeTokens
from tests.fakes.records import tenant

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ORG = "923609016"
CALLBACK = "https://momentsync.example/oauth/fiken/callback"
OURS = FikenCompany(slug="acme-as", name="Acme AS", organizationNumber=ORG, hasApiAccess=True)
OURS_TOO = FikenCompany(slug="acme-avd", name="Acme avd. Bergen", organizationNumber=ORG, hasApiAccess=True)
THEIRS = FikenCompany(slug="other-as", name="Other AS", organizationNumber="987654321", hasApiAccess=True)
NO_API = FikenCompany(slug="acme-as", name="Acme AS", organizationNumber=ORG, hasApiAccess=False)


class World:
    def __init__(self, *companies: FikenCompany, **tenant_fields) -> None:
        self.now = NOW
        fields = {"organization_number": ORG, "fiken_company_slug": None, **tenant_fields}
        self.tenants = InMemoryTenants(tenant("acme", **fields))
        self.credentials = InMemoryCredentials()
        self.credentials.put("acme", TenantCredentials(moment_api_key=SecretStr("moment-key")))
        self.tokens = InMemoryOneTimeTokens(clock=lambda: self.now.timestamp())
        self.oauth = InMemoryFikenOAuth()
        self.companies = FixedCompanies(*companies)
        self.leases = InMemoryLeases()
        self.parked = InMemoryParkedEvents()
        self.queue = InMemoryEventQueue()
        self.flow = FikenConnectFlow(
            tenants=self.tenants,
            credentials=self.credentials,
            one_time_tokens=self.tokens,
            oauth=self.oauth,
            companies=self.companies,
            leases=self.leases,
            parked=self.parked,
            queue=self.queue,
            clock=lambda: self.now,
        )

    def link(self, tenant_id: str = "acme", data: dict | None = None) -> str:
        token, _ = self.tokens.issue(OneTimeTokenKind.CONNECT_LINK, tenant_id, timedelta(hours=72), data)
        return token

    def disconnect(self):
        return disconnect_tenant(
            tenant_id="acme",
            tenants=self.tenants,
            credentials=self.credentials,
            oauth=self.oauth,
            leases=self.leases,
            clock=lambda: self.now,
        )

    def connect(self, link: str | None = None):
        redirect = self.flow.start("acme", link or self.link(), redirect_uri=CALLBACK)
        state = redirect.url.split("state=")[1].split("&")[0]
        code = self.oauth.approve(state)
        return self.flow.complete(code=code, state=state, browser_binding=redirect.browser_binding)

    def stored(self) -> TenantCredentials:
        return self.credentials.get("acme")


def test_the_landing_page_does_not_spend_the_link_and_the_post_spends_it_once():
    world = World(OURS)
    link = world.link()

    assert world.flow.landing("acme", link).tenant_name == "Acme AS"
    assert world.flow.landing("acme", link).organization_number == ORG  # looked at twice: still there
    world.flow.start("acme", link, redirect_uri=CALLBACK)
    with pytest.raises(ConnectRefused) as refused:
        world.flow.start("acme", link, redirect_uri=CALLBACK)
    assert refused.value.problem is ConnectProblem.LINK_UNKNOWN


def test_a_link_used_on_another_tenants_path_is_refused_and_stays_usable():
    world = World(OURS)
    world.tenants.create(tenant("zeta", organization_number=ORG))
    link = world.link("acme")

    with pytest.raises(ConnectRefused) as refused:
        world.flow.start("zeta", link, redirect_uri=CALLBACK)

    assert refused.value.problem is ConnectProblem.LINK_UNKNOWN
    assert isinstance(world.connect(link), Connected)


def test_connecting_links_the_tenants_company_stores_the_tokens_beside_the_moment_key_and_activates_it():
    world = World(
        OURS, THEIRS, status=TenantStatus.NEEDS_REAUTH, problems={"needs_reauth": "consent revoked"}
    )

    result = world.connect()

    assert isinstance(result, Connected) and result.company.slug == "acme-as"
    stored = world.stored()
    assert stored.moment_api_key.get_secret_value() == "moment-key"
    assert world.oauth.grant_of(stored.fiken.access_token.get_secret_value()) == "grant-1"
    assert stored.fiken.expires_at == NOW + timedelta(seconds=86157)
    acme = world.tenants.get("acme")
    assert (acme.status, acme.fiken_company_slug, acme.problems) == (TenantStatus.ACTIVE, "acme-as", {})
    # The tokens were written under the lease the processor's refresh takes.
    assert world.leases.taken == [token_lease_name("acme")]
    assert world.oauth.revoked == []


def test_parked_events_are_queued_again_in_arrival_order_once_the_tenant_is_active():
    world = World(OURS, status=TenantStatus.NEEDS_REAUTH)
    for n, minute in [(2, 5), (1, 1), (3, 9)]:
        world.parked.park(
            QueueEnvelope(
                event_id=f"e-{n}",
                tenant_id="acme",
                entity_type="invoice",
                entity_id=n,
                moment_event="UPDATE",
                received_at=NOW + timedelta(minutes=minute),
                payload={},
            ),
            "tenant is needs_reauth",
        )

    result = world.connect()

    assert result.resumed == 3
    assert [(e.event_id, e.origin) for e in world.queue.group("acme")] == [
        ("e-1", "resume"),
        ("e-2", "resume"),
        ("e-3", "resume"),
    ]
    assert world.parked.count("acme") == 0


def test_a_callback_in_another_browser_is_refused_and_nothing_is_stored():
    world = World(OURS)
    redirect = world.flow.start("acme", world.link(), redirect_uri=CALLBACK)
    state = redirect.url.split("state=")[1].split("&")[0]

    with pytest.raises(ConnectRefused) as refused:
        world.flow.complete(
            code=world.oauth.approve(state), state=state, browser_binding="someone-elses-cookie"
        )

    assert refused.value.problem is ConnectProblem.OTHER_BROWSER
    assert world.stored().fiken is None


def test_a_state_older_than_its_lifetime_is_expired():
    world = World(OURS)
    redirect = world.flow.start("acme", world.link(), redirect_uri=CALLBACK)
    state = redirect.url.split("state=")[1].split("&")[0]
    world.now += timedelta(minutes=16)

    with pytest.raises(ConnectRefused) as refused:
        world.flow.complete(
            code=world.oauth.approve(state), state=state, browser_binding=redirect.browser_binding
        )

    assert refused.value.problem is ConnectProblem.STATE_EXPIRED


def test_a_code_fiken_refuses_is_code_rejected():
    world = World(OURS)
    redirect = world.flow.start("acme", world.link(), redirect_uri=CALLBACK)
    state = redirect.url.split("state=")[1].split("&")[0]

    with pytest.raises(ConnectRefused) as refused:
        world.flow.complete(code="made-up", state=state, browser_binding=redirect.browser_binding)

    assert refused.value.problem is ConnectProblem.CODE_REJECTED


def test_no_company_with_api_access_revokes_the_new_grant_and_changes_nothing():
    world = World(NO_API)

    result = world.connect()

    assert isinstance(result, NoCompanyWithApiAccess)
    assert world.oauth.revoked == ["grant-1"] and world.stored().fiken is None


def test_only_companies_of_another_organisation_link_nothing_and_revoke_the_grant():
    world = World(THEIRS)

    result = world.connect()

    assert isinstance(result, NoMatchingCompany) and result.organization_number == ORG
    assert world.oauth.revoked == ["grant-1"]
    assert world.tenants.get("acme").fiken_company_slug is None


def test_the_operator_can_allow_one_company_of_another_organisation_on_the_link():
    world = World(THEIRS)

    result = world.connect(world.link(data={"allow_company": "other-as"}))

    assert isinstance(result, Connected) and result.company.slug == "other-as"


def test_a_reconnect_keeps_the_tenants_company_and_revokes_the_grant_it_replaces():
    world = World(OURS, OURS_TOO)
    first = world.connect(world.link(data={"allow_company": "acme-as"}))
    assert isinstance(first, CompanyChoice)  # two of the organisation's companies: the user chooses
    world.flow.choose(choice_token=first.choice_token, slug="acme-avd")

    again = world.connect()

    assert isinstance(again, Connected) and again.company.slug == "acme-avd"
    assert world.oauth.revoked == ["grant-1"]
    assert world.oauth.grant_of(world.stored().fiken.access_token.get_secret_value()) == "grant-2"


def test_a_choice_waits_beside_the_working_tokens_until_the_user_picks():
    world = World(OURS, OURS_TOO)
    world.credentials.put(
        "acme",
        TenantCredentials(
            moment_api_key=SecretStr("moment-key"),
            fiken=OAuthTokens(
                access_token=SecretStr("working"), refresh_token=SecretStr("r"), expires_at=NOW
            ),
        ),
    )

    choice = world.connect()

    assert isinstance(choice, CompanyChoice) and [c.slug for c in choice.companies] == ["acme-as", "acme-avd"]
    assert world.stored().fiken.access_token.get_secret_value() == "working"  # still syncing meanwhile
    assert world.stored().fiken_pending is not None

    with pytest.raises(ConnectRefused) as refused:
        world.flow.choose(choice_token=choice.choice_token, slug="other-as")
    assert refused.value.problem is ConnectProblem.COMPANY_NOT_OFFERED
    assert world.oauth.revoked == ["grant-1"]  # the waiting grant can never be used now: ended
    assert world.stored().fiken_pending is None
    assert world.stored().fiken.access_token.get_secret_value() == "working"


def test_a_tenant_of_another_target_cannot_be_connected_to_fiken():
    world = World(OURS, target=TargetSystem.SPAREBANK1)

    with pytest.raises(ConnectRefused) as refused:
        world.flow.landing("acme", world.link())

    assert refused.value.problem is ConnectProblem.NOT_A_FIKEN_TENANT


def test_disconnect_revokes_the_grant_keeps_the_moment_key_and_disables_the_tenant():
    world = World(OURS)
    world.connect()

    result = world.disconnect()

    assert result.revoked is True and world.oauth.revoked == ["grant-1"]
    assert world.stored().fiken is None and world.stored().moment_api_key.get_secret_value() == "moment-key"
    assert world.tenants.get("acme").status is TenantStatus.DISABLED


def test_disconnect_with_an_expired_access_token_refreshes_first_to_revoke():
    world = World(OURS)
    world.connect()
    world.now += timedelta(days=2)  # the access token (86157 s) has run out

    result = world.disconnect()

    assert result.revoked is True and world.oauth.revoked == ["grant-1"]
