"""Fiken access tokens for one tenant: cached in memory, refreshed under a per-tenant lease.

Implements the Fiken client's ``TokenProvider`` protocol (``access_token``,
``refresh_after_unauthorized``). Fiken rotates refresh tokens, so two refreshes with the same refresh
token must never race: the loser would be handed ``invalid_grant`` and the tenant wrongly flagged
(docs/reference/aws.md §3). Hence:

1. the access token is reused from memory until ``expires_at - margin``;
2. a refresh takes the tenant's lease, then re-reads the secret bypassing every cache
   (another holder may have refreshed a moment ago) and refreshes only if still needed;
3. the new access and refresh tokens are written together *before* either is used;
4. ``invalid_grant`` with the stored refresh token (still stored after a short grace, in case a
   holder whose lease ran out spent it first) -> tenant ``needs_reauth`` and a ``TenantLevelError``,
   which makes the processor park the tenant's events and notify.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NoReturn

from momentsync.clock import utcnow
from momentsync.connectors.fiken.oauth import FikenOAuthClient, InvalidGrant
from momentsync.credentials import CredentialsNotFound, OAuthTokens, TenantCredentials
from momentsync.errors import TenantLevelError, TenantProblem, TransientError
from momentsync.observability import logger
from momentsync.ports import CredentialsStore, LeaseLock, TenantStore
from momentsync.tenants import TenantConflict, TenantStatus

DEFAULT_REFRESH_MARGIN = timedelta(minutes=5)
# Pauses between re-reads of the store after invalid_grant (1.75 s in all): time for a holder whose
# lease ran out to store the pair it was given (a PutSecretValue normally takes well under a second).
DEFAULT_ROTATION_GRACE_SECONDS = (0.25, 0.5, 1.0)


def reconnect_remedy(tenant_id: str) -> str:
    return (
        "Reconnect Fiken: an operator runs `momentsync tenants connect-url "
        f"{tenant_id}` and sends the link to someone with access to the Fiken company, who approves "
        "momentsync in Fiken. Held transfers then resume in order."
    )


def token_lease_name(tenant_id: str) -> str:
    """The lease every writer of the tenant's Fiken tokens takes (refresh, connect, disconnect)."""
    return f"fiken-token#{tenant_id}"


class FikenTokenProvider:
    def __init__(
        self,
        tenant_id: str,
        *,
        credentials: CredentialsStore,
        oauth: FikenOAuthClient,
        leases: LeaseLock,
        tenants: TenantStore,
        clock: Callable[[], datetime] = utcnow,
        refresh_margin: timedelta = DEFAULT_REFRESH_MARGIN,
        persist_attempts: int = 3,
        persist_retry_seconds: float = 0.2,
        rotation_grace_seconds: tuple[float, ...] = DEFAULT_ROTATION_GRACE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.tenant_id = tenant_id
        self._credentials = credentials
        self._oauth = oauth
        self._leases = leases
        self._tenants = tenants
        self._clock = clock
        self._margin = refresh_margin
        self._persist_attempts = persist_attempts
        self._persist_retry_seconds = persist_retry_seconds
        self._rotation_grace_seconds = rotation_grace_seconds
        self._sleep = sleep
        self._cached: OAuthTokens | None = None
        self._lock = threading.Lock()  # one refresh per provider instance at a time

    def __repr__(self) -> str:
        return f"FikenTokenProvider(tenant_id={self.tenant_id!r})"

    def access_token(self) -> str:
        cached = self._cached
        if cached and self._usable(cached):
            return cached.access_token.get_secret_value()
        with self._lock:
            cached = self._cached
            if cached and self._usable(cached):
                return cached.access_token.get_secret_value()
            # The store's own short cache is fine for tokens it holds: a stale read only costs a lease
            # round trip. A cached "no tokens" is not trusted: a connect may have stored them a moment
            # ago, so only the fresh read inside _refresh may conclude that re-auth is needed.
            stored = self._cached_tokens()
            if stored is not None and self._usable(stored):
                self._cached = stored
                return stored.access_token.get_secret_value()
            return self._refresh(rejected_token=None)

    def refresh_after_unauthorized(self, rejected_token: str) -> str:
        """Fiken said 401 to ``rejected_token``: refresh once, unless someone already replaced it."""
        with self._lock:
            self._cached = None
            return self._refresh(rejected_token=rejected_token)

    # ------------------------------------------------------------------ refresh
    def _refresh(self, *, rejected_token: str | None) -> str:
        with self._leases.hold(token_lease_name(self.tenant_id)):
            credentials = self._credentials_fresh()
            stored = self._tokens_of(credentials)
            if rejected_token is None:
                if self._usable(stored):
                    self._cached = stored
                    return stored.access_token.get_secret_value()
            elif stored.access_token.get_secret_value() != rejected_token and not self._expired(stored):
                # Another holder refreshed since the rejected token was handed out: use theirs.
                self._cached = stored
                return stored.access_token.get_secret_value()
            tokens, rotated_elsewhere = self._spend_refresh_token(stored)
            if not rotated_elsewhere:
                self._persist(credentials.model_copy(update={"fiken": tokens}))
                logger.info("fiken access token refreshed", extra={"tenant_id": self.tenant_id})
            self._cached = tokens
            return tokens.access_token.get_secret_value()

    def _spend_refresh_token(self, stored: OAuthTokens) -> tuple[OAuthTokens, bool]:
        """(new tokens, whether another holder stored them); the new pair is not yet persisted."""
        if stored.refresh_token is None:
            self._needs_reauth("Fiken gave no refresh token; the connection must be renewed")
        spent = stored.refresh_token.get_secret_value()
        try:
            grant = self._oauth.refresh(spent)
        except InvalidGrant:
            latest = self._rotated_elsewhere(spent)
            if latest is not None:
                return latest, True
            self._needs_reauth("Fiken refused to renew access (consent revoked or connection expired)")
        return grant.to_tokens(self._clock(), previous_refresh_token=stored.refresh_token), False

    def _rotated_elsewhere(self, spent: str) -> OAuthTokens | None:
        """The pair another holder stored after spending ``spent``, if one appears within the grace.

        Only a refresh that outlasted its lease overlaps another (the lease is 30 s, a refresh
        normally a second; docs/local-aws.md). Fiken answers the later spender ``invalid_grant`` as
        soon as the earlier one's call reached it, before that one has stored its new pair: the store
        is re-read a few times before the connection is called revoked, which would park the tenant
        until someone reconnects it by hand.
        """
        for pause in (0.0, *self._rotation_grace_seconds):
            if pause:
                self._sleep(pause)
            latest = self._tokens_of(self._credentials_fresh())
            if latest.refresh_token is not None and latest.refresh_token.get_secret_value() != spent:
                return latest
        return None

    def _persist(self, credentials: TenantCredentials) -> None:
        """Writes the rotated pair; retried, because the old refresh token is already spent."""
        for attempt in range(1, self._persist_attempts + 1):
            try:
                self._credentials.put(self.tenant_id, credentials)
                return
            except Exception as exc:  # noqa: BLE001 - any write failure is retried the same way
                logger.warning(
                    "could not store refreshed fiken tokens",
                    extra={"tenant_id": self.tenant_id, "attempt": attempt, "error_type": type(exc).__name__},
                )
                if attempt == self._persist_attempts:
                    raise TransientError("could not store the refreshed Fiken tokens") from None
                self._sleep(self._persist_retry_seconds * attempt)

    def _needs_reauth(self, reason: str) -> NoReturn:
        """Flags the tenant (compare-and-set) and raises; the processor parks and notifies."""
        for _ in range(3):
            tenant = self._tenants.get(self.tenant_id)
            if tenant is None or tenant.status in (TenantStatus.NEEDS_REAUTH, TenantStatus.DISABLED):
                break
            tenant.status = TenantStatus.NEEDS_REAUTH
            tenant.status_reason = reason
            try:
                self._tenants.save(tenant)
                break
            except TenantConflict:
                continue
        self._cached = None
        logger.warning("fiken connection needs re-authorisation", extra={"tenant_id": self.tenant_id})
        raise TenantLevelError(
            TenantProblem.NEEDS_REAUTH, reason, remedy=reconnect_remedy(self.tenant_id), recorded=True
        )

    # ------------------------------------------------------------------ reading
    def _cached_tokens(self) -> OAuthTokens | None:
        try:
            return self._credentials.get(self.tenant_id).fiken
        except CredentialsNotFound:
            return None

    def _credentials_fresh(self) -> TenantCredentials:
        try:
            return self._credentials.get(self.tenant_id, fresh=True)
        except CredentialsNotFound:
            self._needs_reauth("no Fiken connection is stored for this tenant")
            raise  # unreachable: _needs_reauth raises

    def _tokens_of(self, credentials: TenantCredentials) -> OAuthTokens:
        if credentials.fiken is None:
            self._needs_reauth("no Fiken connection is stored for this tenant")
        return credentials.fiken

    def _usable(self, tokens: OAuthTokens) -> bool:
        return tokens.expires_at - self._margin > self._clock()

    def _expired(self, tokens: OAuthTokens) -> bool:
        return tokens.expires_at <= self._clock()


class FikenTokenProviders:
    """One provider per tenant, kept across warm invocations so the access token cache survives."""

    def __init__(self, build: Callable[[str], FikenTokenProvider]) -> None:
        self._build = build
        self._providers: dict[str, FikenTokenProvider] = {}
        self._lock = threading.Lock()

    def for_tenant(self, tenant_id: str) -> FikenTokenProvider:
        with self._lock:
            provider = self._providers.get(tenant_id)
            if provider is None:
                provider = self._providers[tenant_id] = self._build(tenant_id)
            return provider
