"""Connecting a tenant to Fiken (OAuth2 authorization code) and disconnecting it.

1. An operator creates a one-time connect link (``links.create_connect_link``) and sends it.
2. ``landing`` (GET): the link is only looked at, never spent (mail scanners open links); the page
   names the tenant and its organisation number and asks to continue.
3. ``start`` (the page's POST): the link is consumed; a single-use ``state`` bound to the tenant and
   to the browser (a cookie) is stored hashed, and the browser is sent to Fiken's consent page.
4. ``complete``: the state is consumed (and its browser checked), the code exchanged, and a company
   picked among those with API access whose organisation number is the tenant's (or the one company
   the operator confirmed on the link): the one it already had, else the only one, else the user
   chooses (``choose``; the new tokens wait in the secret's ``fiken_pending``, unused). None fits: the
   new grant is revoked and nothing changes.
5. Linking stores the tokens (merged: the Moment API key stays), revokes the grant they replace, makes
   the tenant active and re-enqueues its parked events in arrival order.

Token writes take the same per-tenant lease as the processor's refresh, so a refresh in flight
cannot overwrite freshly connected tokens with ones from the revoked grant.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from momentsync.clock import utcnow
from momentsync.connect.links import OneTimeTokenKind, OneTimeTokenRejected
from momentsync.connectors.fiken.auth import StaticTokenProvider
from momentsync.connectors.fiken.client import FikenClient
from momentsync.connectors.fiken.oauth import FikenOAuthClient, InvalidGrant, OAuthRejected
from momentsync.connectors.fiken.tokens import token_lease_name
from momentsync.credentials import CredentialsNotFound, OAuthTokens, PendingFikenGrant, TenantCredentials
from momentsync.errors import TenantProblem, TransientError
from momentsync.observability import logger
from momentsync.ports import (
    CredentialsStore,
    EventQueue,
    LeaseLock,
    OneTimeTokens,
    ParkingLot,
    TenantRepository,
)
from momentsync.tenants import TENANT_ID_PATTERN, TargetSystem, Tenant, TenantConflict, TenantStatus
from momentsync.tls import client_tls_context

# Problems a successful connection settles; others (a missing module, say) stay until fixed.
_SETTLED_BY_CONNECTING = {TenantProblem.NEEDS_REAUTH.value, TenantProblem.API_ACCESS_MISSING.value}


class ConnectProblem(StrEnum):
    LINK_UNKNOWN = "link_unknown"
    LINK_EXPIRED = "link_expired"
    STATE_UNKNOWN = "state_unknown"
    STATE_EXPIRED = "state_expired"
    CHOICE_UNKNOWN = "choice_unknown"
    CHOICE_EXPIRED = "choice_expired"
    COMPANY_NOT_OFFERED = "company_not_offered"
    CODE_REJECTED = "code_rejected"
    MISSING_PARAMETERS = "missing_parameters"
    TENANT_UNKNOWN = "tenant_unknown"
    NOT_A_FIKEN_TENANT = "not_a_fiken_tenant"
    AUTHORIZATION_FAILED = "authorization_failed"
    OTHER_BROWSER = "other_browser"
    MALFORMED_FORM = "malformed_form"
    CROSS_SITE = "cross_site"


_REJECTED_TOKEN_PROBLEMS = {
    (OneTimeTokenKind.CONNECT_LINK, "unknown"): ConnectProblem.LINK_UNKNOWN,
    (OneTimeTokenKind.CONNECT_LINK, "expired"): ConnectProblem.LINK_EXPIRED,
    (OneTimeTokenKind.OAUTH_STATE, "unknown"): ConnectProblem.STATE_UNKNOWN,
    (OneTimeTokenKind.OAUTH_STATE, "expired"): ConnectProblem.STATE_EXPIRED,
    (OneTimeTokenKind.COMPANY_CHOICE, "unknown"): ConnectProblem.CHOICE_UNKNOWN,
    (OneTimeTokenKind.COMPANY_CHOICE, "expired"): ConnectProblem.CHOICE_EXPIRED,
}


class ConnectRefused(Exception):
    """The browser's request cannot go on; ``problem`` selects the page shown (status 400)."""

    def __init__(self, problem: ConnectProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


class FikenCompany(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    slug: str = Field(min_length=1)
    name: str = ""
    organization_number: str | None = Field(default=None, alias="organizationNumber")
    has_api_access: bool = Field(default=False, alias="hasApiAccess")
    test_company: bool = Field(default=False, alias="testCompany")


class FikenCompanyDirectory:
    """The companies the user let the app see (``GET /companies``), through the Fiken client.

    Few attempts with short backoff: a person is waiting, behind the HTTP API's 30-second limit.
    """

    def __init__(self, api_base_url: str, http: httpx.Client | None = None) -> None:
        self._base = api_base_url.rstrip("/")
        self._http = http or httpx.Client(timeout=10.0, verify=client_tls_context())

    def list(self, access_token: str) -> list[FikenCompany]:
        client = FikenClient(
            company_slug=None,
            token_provider=StaticTokenProvider(access_token),
            base_url=self._base,
            http=self._http,
            max_attempts=2,
            backoff_base_seconds=0.5,
            backoff_cap_seconds=2.0,
        )
        return [
            FikenCompany(
                slug=company.slug,
                name=company.name or "",
                organization_number=company.organization_number,
                has_api_access=bool(company.has_api_access),
                test_company=bool(company.test_company),
            )
            for company in client.list_companies()
        ]


# ---------------------------------------------------------------- what the browser is shown
@dataclass(frozen=True)
class AuthorizeRedirect:
    url: str = field(repr=False)
    # Goes into a cookie scoped to the callback; the state item keeps only its hash.
    browser_binding: str = field(repr=False)
    max_age_seconds: int = 900


@dataclass(frozen=True)
class Connected:
    tenant_id: str
    tenant_name: str
    company: FikenCompany
    resumed: int
    resume_failed: bool = False


@dataclass(frozen=True)
class CompanyChoice:
    tenant_id: str
    tenant_name: str
    companies: list[FikenCompany]
    choice_token: str = field(repr=False)
    # The tenant's company before reconnecting is no longer among those with API access.
    previous_company_missing: str | None = None


@dataclass(frozen=True)
class NoCompanyWithApiAccess:
    tenant_id: str
    tenant_name: str
    companies: list[FikenCompany]


@dataclass(frozen=True)
class NoMatchingCompany:
    """Companies with API access, none of them the tenant's organisation: nothing linked, grant revoked."""

    tenant_id: str
    tenant_name: str
    organization_number: str | None
    companies: list[FikenCompany]


@dataclass(frozen=True)
class ConnectLanding:
    """The link's first page: whose books, and a button that spends the link (POST)."""

    tenant_id: str
    tenant_name: str
    organization_number: str | None
    link_token: str = field(repr=False)


ConnectResult = Connected | CompanyChoice | NoCompanyWithApiAccess | NoMatchingCompany


@dataclass
class FikenConnectFlow:
    tenants: TenantRepository
    credentials: CredentialsStore
    one_time_tokens: OneTimeTokens
    oauth: FikenOAuthClient
    companies: FikenCompanyDirectory
    leases: LeaseLock
    parked: ParkingLot
    queue: EventQueue
    state_ttl: timedelta = timedelta(minutes=15)
    choice_ttl: timedelta = timedelta(minutes=30)
    clock: Callable[[], datetime] = utcnow

    def landing(self, tenant_id: str, link_token: str | None) -> ConnectLanding:
        """What the link's GET shows; the link stays unspent (a scanner's or preview's GET burns nothing)."""
        if not re.match(TENANT_ID_PATTERN, tenant_id):
            raise ConnectRefused(ConnectProblem.LINK_UNKNOWN)
        try:
            grant = self.one_time_tokens.peek(OneTimeTokenKind.CONNECT_LINK, link_token)
        except OneTimeTokenRejected as exc:
            raise ConnectRefused(_REJECTED_TOKEN_PROBLEMS[(exc.kind, exc.problem)]) from None
        if grant.tenant_id != tenant_id:
            raise ConnectRefused(ConnectProblem.LINK_UNKNOWN)
        tenant = self._fiken_tenant(tenant_id)
        return ConnectLanding(tenant.tenant_id, tenant.name, tenant.organization_number, link_token or "")

    def start(self, tenant_id: str, link_token: str | None, *, redirect_uri: str) -> AuthorizeRedirect:
        """Consumes the connect link (the landing page's POST); returns Fiken's authorize URL with a state.

        The state is bound to the tenant and to this browser (``browser_binding``, set as a cookie):
        a callback arriving in another browser is refused, so nobody can have their own connect
        link's consent completed by someone else's Fiken user (RFC 6749 §10.12).
        """
        if not re.match(TENANT_ID_PATTERN, tenant_id):
            raise ConnectRefused(ConnectProblem.LINK_UNKNOWN)
        self.landing(tenant_id, link_token)  # a link used on another tenant's path stays unspent
        # Only for a live link: a stranger's junk must be a 400, not the 503 (and the operator's alarm)
        # of a stack whose Fiken app is not configured. Still before the link is spent.
        self.oauth.ensure_configured()
        grant = self._consume(OneTimeTokenKind.CONNECT_LINK, link_token)
        if grant.tenant_id != tenant_id:
            raise ConnectRefused(ConnectProblem.LINK_UNKNOWN)
        binding = secrets.token_urlsafe(32)
        state, _expires = self.one_time_tokens.issue(
            OneTimeTokenKind.OAUTH_STATE,
            tenant_id,
            self.state_ttl,
            {
                "redirect_uri": redirect_uri,
                "browser": _digest(binding),
                **({"allow_company": grant.data["allow_company"]} if grant.data.get("allow_company") else {}),
            },
        )
        logger.info("connect link used; sent to Fiken", extra={"tenant_id": tenant_id})
        return AuthorizeRedirect(
            url=self.oauth.authorize_url(redirect_uri=redirect_uri, state=state),
            browser_binding=binding,
            max_age_seconds=int(self.state_ttl.total_seconds()),
        )

    def complete(self, *, code: str | None, state: str | None, browser_binding: str | None) -> ConnectResult:
        """Fiken sent the browser back with a code: exchange it, store the tokens, link a company."""
        if not code or not state:
            raise ConnectRefused(ConnectProblem.MISSING_PARAMETERS)
        grant = self._consume(OneTimeTokenKind.OAUTH_STATE, state)
        expected = str(grant.data.get("browser") or "")
        if not browser_binding or not hmac.compare_digest(expected, _digest(browser_binding)):
            logger.warning("connect callback from another browser", extra={"tenant_id": grant.tenant_id})
            raise ConnectRefused(ConnectProblem.OTHER_BROWSER)
        tenant = self._fiken_tenant(grant.tenant_id)
        try:
            token_grant = self.oauth.exchange_code(
                code=code, redirect_uri=grant.data["redirect_uri"], state=state
            )
        except InvalidGrant:
            raise ConnectRefused(ConnectProblem.CODE_REJECTED) from None
        except OAuthRejected as exc:
            logger.error(
                "fiken refused the code exchange", extra={"tenant_id": tenant.tenant_id, "error": exc.error}
            )
            raise ConnectRefused(ConnectProblem.AUTHORIZATION_FAILED) from None
        tokens = token_grant.to_tokens(self.clock())
        try:
            companies = self.companies.list(tokens.access_token.get_secret_value())
        except Exception:
            self._revoke_quietly(tenant.tenant_id, tokens, "company list failed")
            raise
        return self._link_or_offer(tenant, companies, tokens, grant.data.get("allow_company"))

    def decline(self, *, state: str | None, browser_binding: str | None) -> None:
        """The user said no in Fiken. Only the browser that started may spend the state; the answer
        is the same page whatever the state was, and names no tenant (a crafted link learns nothing)."""
        try:
            grant = self.one_time_tokens.peek(OneTimeTokenKind.OAUTH_STATE, state)
        except OneTimeTokenRejected:
            return
        expected = str(grant.data.get("browser") or "")
        if not browser_binding or not hmac.compare_digest(expected, _digest(browser_binding)):
            logger.warning("connect decline from another browser", extra={"tenant_id": grant.tenant_id})
            return
        try:
            self.one_time_tokens.consume(OneTimeTokenKind.OAUTH_STATE, state)
        except OneTimeTokenRejected:
            return
        logger.info("fiken consent declined", extra={"tenant_id": grant.tenant_id})

    def choose(self, *, choice_token: str | None, slug: str | None) -> Connected:
        try:
            grant = self.one_time_tokens.consume(OneTimeTokenKind.COMPANY_CHOICE, choice_token)
        except OneTimeTokenRejected as exc:
            if exc.problem == "expired" and exc.tenant_id:
                # Too late to choose: the grant waiting for this choice can never be used, so end it.
                self._drop_pending(exc.tenant_id, choice_token or "")
            raise ConnectRefused(_REJECTED_TOKEN_PROBLEMS[(exc.kind, exc.problem)]) from None
        offered = [FikenCompany.model_validate(company) for company in grant.data.get("companies", [])]
        company = next((c for c in offered if c.slug == slug), None)
        if company is None:
            # The choice is spent: its waiting grant can never be used, so end it at Fiken.
            self._drop_pending(grant.tenant_id, choice_token or "")
            raise ConnectRefused(ConnectProblem.COMPANY_NOT_OFFERED)
        return self._link(grant.tenant_id, company, pending_choice=choice_token or "")

    # ------------------------------------------------------------------ steps
    def _consume(self, kind: OneTimeTokenKind, token: str | None) -> Any:
        try:
            return self.one_time_tokens.consume(kind, token)
        except OneTimeTokenRejected as exc:
            raise ConnectRefused(_REJECTED_TOKEN_PROBLEMS[(exc.kind, exc.problem)]) from None

    def _fiken_tenant(self, tenant_id: str) -> Tenant:
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            raise ConnectRefused(ConnectProblem.TENANT_UNKNOWN)
        if tenant.target is not TargetSystem.FIKEN:
            raise ConnectRefused(ConnectProblem.NOT_A_FIKEN_TENANT)
        return tenant

    def _link_or_offer(
        self,
        tenant: Tenant,
        companies: list[FikenCompany],
        tokens: OAuthTokens,
        allow_company: str | None,
    ) -> ConnectResult:
        usable = [c for c in companies if c.has_api_access]
        if not usable:
            self._revoke_quietly(tenant.tenant_id, tokens, "no company with API access")
            return NoCompanyWithApiAccess(tenant.tenant_id, tenant.name, companies)
        # Whoever opens the link picks among the companies THEY can see: only the tenant's own
        # organisation (or the one company the operator confirmed) may receive its invoices.
        eligible = [c for c in usable if _belongs_to(c, tenant, allow_company)]
        if not eligible:
            self._revoke_quietly(tenant.tenant_id, tokens, "no company of the tenant's organisation")
            logger.warning(
                "connect offered no company of the tenant's organisation",
                extra={"tenant_id": tenant.tenant_id, "offered": len(usable)},
            )
            return NoMatchingCompany(tenant.tenant_id, tenant.name, tenant.organization_number, usable)
        previous = tenant.fiken_company_slug
        current = next((c for c in eligible if c.slug == previous), None)
        if current is not None:
            return self._link(tenant.tenant_id, current, tokens=tokens)
        # A reconnect never moves a tenant to another company unasked: its books are there.
        if len(eligible) == 1 and previous is None:
            return self._link(tenant.tenant_id, eligible[0], tokens=tokens)
        token, _expires = self.one_time_tokens.issue(
            OneTimeTokenKind.COMPANY_CHOICE,
            tenant.tenant_id,
            self.choice_ttl,
            {"companies": [c.model_dump(mode="json") for c in eligible]},
        )
        self._park_pending(tenant.tenant_id, PendingFikenGrant(tokens=tokens, choice_digest=_digest(token)))
        return CompanyChoice(
            tenant_id=tenant.tenant_id,
            tenant_name=tenant.name,
            companies=eligible,
            choice_token=token,
            previous_company_missing=previous,
        )

    def _park_pending(self, tenant_id: str, pending: PendingFikenGrant) -> None:
        """The new tokens wait beside the tenant's working ones (which keep syncing) until a choice."""
        with self.leases.hold(token_lease_name(tenant_id)):
            credentials = self._credentials(tenant_id)
            replaced = credentials.fiken_pending
            self.credentials.put(tenant_id, credentials.model_copy(update={"fiken_pending": pending}))
        if replaced is not None:
            self._revoke_quietly(tenant_id, replaced.tokens, "an older connect was still waiting")

    def _drop_pending(self, tenant_id: str, choice_token: str) -> None:
        with self.leases.hold(token_lease_name(tenant_id)):
            credentials = self._credentials(tenant_id)
            pending = credentials.fiken_pending
            if pending is None or not hmac.compare_digest(pending.choice_digest, _digest(choice_token)):
                return
            self.credentials.put(tenant_id, credentials.model_copy(update={"fiken_pending": None}))
        self._revoke_quietly(tenant_id, pending.tokens, "the company choice was refused")

    def _credentials(self, tenant_id: str) -> TenantCredentials:
        try:
            return self.credentials.get(tenant_id, fresh=True)
        except CredentialsNotFound:
            return TenantCredentials()

    def _store_tokens(self, tenant_id: str, tokens: OAuthTokens | None, pending_choice: str | None) -> None:
        """The tenant's tokens become the new ones; the grant they replace is revoked at Fiken."""
        with self.leases.hold(token_lease_name(tenant_id)):
            credentials = self._credentials(tenant_id)
            if pending_choice is not None:
                pending = credentials.fiken_pending
                if pending is None or not hmac.compare_digest(pending.choice_digest, _digest(pending_choice)):
                    # A newer connect replaced (and revoked) the grant this choice was made for.
                    raise ConnectRefused(ConnectProblem.CHOICE_UNKNOWN)
                tokens = pending.tokens
            assert tokens is not None
            replaced = credentials.fiken
            # A choice still waiting from an earlier connect can never be completed now: end its grant.
            stale = credentials.fiken_pending if pending_choice is None else None
            self.credentials.put(
                tenant_id, credentials.model_copy(update={"fiken": tokens, "fiken_pending": None})
            )
        logger.info("fiken tokens stored", extra={"tenant_id": tenant_id})
        if replaced is not None and replaced.refresh_token != tokens.refresh_token:
            self._revoke_quietly(tenant_id, replaced, "replaced by a new connection")
        if stale is not None:
            self._revoke_quietly(tenant_id, stale.tokens, "an older connect was still waiting")

    def _revoke_quietly(self, tenant_id: str, tokens: OAuthTokens, why: str) -> None:
        """Ends a grant we will not use. Best effort: a failure is logged for the operator, never raised."""
        try:
            revoked = _revoke(self.oauth, tokens, self.clock)
        except Exception as exc:  # noqa: BLE001 - the person's result stands; the operator is told
            logger.error(
                "could not revoke a fiken grant",
                extra={"tenant_id": tenant_id, "why": why, "error_type": type(exc).__name__},
            )
            return
        logger.info("fiken grant revoked", extra={"tenant_id": tenant_id, "why": why, "revoked": revoked})

    def _link(
        self,
        tenant_id: str,
        company: FikenCompany,
        *,
        tokens: OAuthTokens | None = None,
        pending_choice: str | None = None,
    ) -> Connected:
        self._store_tokens(tenant_id, tokens, pending_choice)
        for _ in range(5):
            tenant = self.tenants.get(tenant_id)
            if tenant is None:
                raise ConnectRefused(ConnectProblem.TENANT_UNKNOWN)
            tenant.fiken_company_slug = company.slug
            tenant.status = TenantStatus.ACTIVE
            tenant.status_reason = None
            tenant.problems = {k: v for k, v in tenant.problems.items() if k not in _SETTLED_BY_CONNECTING}
            try:
                stored = self.tenants.save(tenant)
                break
            except TenantConflict:
                continue
        else:
            raise TransientError("the tenant kept changing while being connected")
        # Only once active: a resumed event read while the tenant still needed re-auth would park again.
        resumed, failed = 0, False
        try:
            resumed = self.parked.resume(tenant_id, self.queue)
        except Exception as exc:  # noqa: BLE001 - connected either way; the rest stays parked, safely
            failed = True
            logger.error(
                "resuming parked events failed",
                extra={"tenant_id": tenant_id, "error_type": type(exc).__name__},
            )
        logger.info(
            "tenant connected to fiken",
            extra={"tenant_id": tenant_id, "company": company.slug, "resumed": resumed},
        )
        return Connected(tenant_id, stored.name, company, resumed, failed)


def _belongs_to(company: FikenCompany, tenant: Tenant, allow_company: str | None) -> bool:
    if allow_company and company.slug == allow_company:
        return True
    theirs = re.sub(r"\D", "", company.organization_number or "")
    return bool(tenant.organization_number) and theirs == tenant.organization_number


# ---------------------------------------------------------------- disconnect
@dataclass(frozen=True)
class Disconnected:
    tenant: Tenant
    revoked: bool  # False when Fiken had already ended the grant (or no tokens were stored)


def disconnect_tenant(
    *,
    tenant_id: str,
    tenants: TenantRepository,
    credentials: CredentialsStore,
    oauth: FikenOAuthClient,
    leases: LeaseLock,
    clock: Callable[[], datetime] = utcnow,
) -> Disconnected:
    """Revokes the app's grant at Fiken, deletes the tokens (the Moment key stays), disables the tenant."""
    tenants.require(tenant_id)
    revoked = False
    with leases.hold(token_lease_name(tenant_id)):
        try:
            stored = credentials.get(tenant_id, fresh=True)
        except CredentialsNotFound:
            stored = None
        tokens = stored.fiken if stored else None
        pending = stored.fiken_pending if stored else None
        if tokens is not None:
            revoked = _revoke(oauth, tokens, clock)
        if pending is not None:
            _revoke(oauth, pending.tokens, clock)  # a connect waiting for its company choice
        if stored is not None and (tokens is not None or pending is not None):
            credentials.put(tenant_id, stored.model_copy(update={"fiken": None, "fiken_pending": None}))
    for _ in range(5):
        tenant = tenants.require(tenant_id)
        tenant.status = TenantStatus.DISABLED
        tenant.status_reason = "disconnected from Fiken by an operator"
        try:
            saved = tenants.save(tenant)
            break
        except TenantConflict:
            continue
    else:
        raise TenantConflict(f"tenant {tenant_id} kept changing; run disconnect again")
    logger.info("tenant disconnected from fiken", extra={"tenant_id": tenant_id, "revoked": revoked})
    return Disconnected(saved, revoked)


def _revoke(oauth: FikenOAuthClient, tokens: OAuthTokens, clock: Callable[[], datetime]) -> bool:
    """True when Fiken ended the grant now; False when it had no live grant left to end."""
    access_token = tokens.access_token.get_secret_value()
    refreshed = False
    if tokens.expires_at <= clock():
        # Revoke wants a live access token: an expired one first buys a new one.
        fresh, refreshed = _fresh_access_token(oauth, tokens), True
        if fresh is None:
            return False
        access_token = fresh
    try:
        oauth.revoke(access_token)
    except OAuthRejected:
        if refreshed:
            return False
        # Our expiry may be off (Fiken ended the token early): one more try with a new token.
        fresh = _fresh_access_token(oauth, tokens)
        if fresh is None:
            return False
        try:
            oauth.revoke(fresh)
        except OAuthRejected:
            return False
    return True


def _fresh_access_token(oauth: FikenOAuthClient, tokens: OAuthTokens) -> str | None:
    if tokens.refresh_token is None:
        return None
    try:
        grant = oauth.refresh(tokens.refresh_token.get_secret_value())
    except InvalidGrant:
        return None  # consent already revoked: nothing left to end
    return grant.access_token.get_secret_value()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
