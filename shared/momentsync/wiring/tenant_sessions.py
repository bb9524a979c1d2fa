"""Opening a tenant's session: its Moment client and its accounting connector, from its credentials.

Clients are kept per tenant across warm invocations (connection reuse, cached access tokens); the
connector is rebuilt per event because it carries the tenant's current mapping settings.

Only the ``max_warm_tenants`` most recently served tenants keep theirs; older ones are closed. Each
client holds its connections open until it is used again or closed (an idle connection the server has
closed still holds a file descriptor), and an execution environment may serve every tenant of the stack
over its life: kept for ever, two clients per tenant ran into Lambda's 1,024 file descriptors at some
hundreds of tenants. A batch serves at most 10 tenants at once, so a client in use is never the oldest.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import SecretStr

from momentsync.aws.app_secrets import FikenAppSecret, SpareBank1AppSecret
from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.aws.leases import DynamoLeaseLock
from momentsync.connectors.fiken.client import FikenClient
from momentsync.connectors.fiken.connector import FikenConnector
from momentsync.connectors.fiken.oauth import FikenOAuthClient
from momentsync.connectors.fiken.pacing import RequestPacer
from momentsync.connectors.fiken.tokens import FikenTokenProvider, FikenTokenProviders
from momentsync.connectors.sparebank1.hosts import custom_bank_urls_permitted
from momentsync.credentials import CredentialsNotFound
from momentsync.errors import PermanentError, TenantLevelError, TenantProblem
from momentsync.moment.client import MomentClient
from momentsync.ports import StateEpochStore, SyncStateStore, TenantRepository
from momentsync.settings import ProcessorSettings
from momentsync.sync.session import TenantSession
from momentsync.tenants import TargetSystem, Tenant

# SpareBank 1's modules (JWT signing, X.509) load at its first tenant, out of a Fiken-only cold start.
if TYPE_CHECKING:
    from momentsync.connectors.sparebank1.access import CompanyAccess, SpareBank1Access
    from momentsync.connectors.sparebank1.connector import SpareBank1Connector


# How long a tenant's secret read stays in this process's memory. Each read costs $5 per million calls,
# paid per execution environment, so it was the third-largest cost per event at 60 s. A longer age is
# safe because a stale copy is never trusted past a refusal: Fiken's access token is used only while
# unexpired, and a 401 makes the token provider re-read the secret under its lease; a Moment 401 makes
# the Moment client re-read the secret and try once more with a key that changed (``fresh_key``).
CREDENTIALS_MAX_AGE_SECONDS = 900.0
# Tenants whose HTTPS clients stay open in one execution environment (see the module docstring).
MAX_WARM_TENANTS = 64

K = TypeVar("K")
V = TypeVar("V")


class TenantSessions:
    max_warm_tenants = MAX_WARM_TENANTS  # a class attribute: a test lowers it for the process

    def __init__(
        self,
        settings: ProcessorSettings,
        *,
        secretsmanager: Any,
        dynamodb: Any,
        tenants: TenantRepository,
        sync_state: SyncStateStore,
        epochs: StateEpochStore | None = None,
    ) -> None:
        self._settings = settings
        self._sync_state = sync_state
        self._epochs = epochs
        self.credentials = SecretsManagerCredentialsStore(
            secretsmanager, settings.credentials_secret_prefix, max_age_seconds=CREDENTIALS_MAX_AGE_SECONDS
        )
        # One pacer per process: Fiken allows one request in flight per company and 4 per second.
        self.pacer = RequestPacer(
            settings.fiken_request_window_seconds,
            app_min_interval=settings.fiken_app_min_request_interval_seconds,
        )
        oauth = FikenOAuthClient(
            settings.fiken_oauth_base_url, FikenAppSecret(secretsmanager, settings.fiken_app_secret_id)
        )
        leases = DynamoLeaseLock(dynamodb.Table(settings.auth_table))
        margin = timedelta(seconds=settings.fiken_token_refresh_margin_seconds)
        self.tokens = FikenTokenProviders(
            lambda tenant_id: FikenTokenProvider(
                tenant_id,
                credentials=self.credentials,
                oauth=oauth,
                leases=leases,
                tenants=tenants,
                refresh_margin=margin,
            )
        )
        # SpareBank 1: one app token (per identity host) and one endpoint map for every tenant, built at
        # its first tenant: its modules (JWT signing, X.509) stay out of a Fiken-only cold start.
        self._secretsmanager = secretsmanager
        self._sparebank1: SpareBank1Access | None = None
        # Least recently served first (see the module docstring).
        self._moment: OrderedDict[str, tuple[str, MomentClient]] = OrderedDict()
        self._fiken: OrderedDict[tuple[str, str], FikenClient] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def sparebank1(self) -> SpareBank1Access:
        with self._lock:  # tenants of one batch open sessions on their own threads
            if self._sparebank1 is None:
                self._sparebank1 = sparebank1_access(
                    self._secretsmanager,
                    self._settings.sparebank1_app_secret_id,
                    # Defence in depth: only a dev/test stage honours bank URLs, whatever the parameter says.
                    custom_bank_urls=custom_bank_urls_permitted(
                        self._settings.sparebank1_custom_bank_urls, self._settings.stage
                    ),
                )
            return self._sparebank1

    def open(self, tenant: Tenant) -> TenantSession:
        return TenantSession(
            tenant=tenant,
            moment=self._moment_client(tenant),
            connector=self._connector(tenant),
            state=self._sync_state,
            epochs=self._epochs,
        )

    def _moment_client(self, tenant: Tenant) -> MomentClient:
        try:
            key = self.credentials.get(tenant.tenant_id).moment_api_key
        except CredentialsNotFound:
            key = None
        if key is None or not key.get_secret_value():
            raise TenantLevelError(
                TenantProblem.MOMENT_KEY_INVALID,
                "no Moment API key is stored for this tenant",
                remedy="store one with `momentsync tenants settings --moment-api-key-stdin`",
            )
        fingerprint = str(hash(key.get_secret_value()))
        with self._lock:
            cached = self._moment.get(tenant.tenant_id)
            if cached and cached[0] == fingerprint and cached[1].company_code == tenant.moment_company_code:
                self._moment.move_to_end(tenant.tenant_id)
                return cached[1]
            if cached:
                cached[1].close()  # another key or company: this tenant's old client is done
            client = MomentClient(
                tenant.moment_company_code,
                key,
                base_url=self._settings.moment_api_base_url,
                # A 401 reads the stored key again: an operator may have rotated it within the cache's age.
                fresh_key=lambda: self._stored_moment_key(tenant.tenant_id),
            )
            self._moment[tenant.tenant_id] = (fingerprint, client)
            self._keep_warm(self._moment, tenant.tenant_id, lambda evicted: evicted[1].close())
            return client

    def _stored_moment_key(self, tenant_id: str) -> SecretStr | None:
        try:
            return self.credentials.get(tenant_id, fresh=True).moment_api_key
        except CredentialsNotFound:
            return None

    def _connector(self, tenant: Tenant) -> FikenConnector | SpareBank1Connector:
        if tenant.target is TargetSystem.SPAREBANK1:
            from momentsync.connectors.sparebank1.connector import SpareBank1Connector

            return SpareBank1Connector(tenant, self.sparebank1.client_for(tenant))
        if tenant.target is not TargetSystem.FIKEN:
            raise PermanentError(f"no connector for target system {tenant.target.value} in this release")
        if not tenant.fiken_company_slug:
            raise TenantLevelError(
                TenantProblem.NEEDS_REAUTH,
                "the tenant is not connected to a Fiken company",
                remedy="open the connect link from `momentsync tenants connect-url`",
            )
        key = (tenant.tenant_id, tenant.fiken_company_slug)
        with self._lock:
            client = self._fiken.get(key)
            if client is None:
                client = self._fiken[key] = FikenClient(
                    company_slug=tenant.fiken_company_slug,
                    token_provider=self.tokens.for_tenant(tenant.tenant_id),
                    base_url=self._settings.fiken_api_base_url,
                    pacer=self.pacer,
                    pacing_key=tenant.tenant_id,
                )
            self._keep_warm(self._fiken, key, FikenClient.close)
        return FikenConnector(tenant, client)

    def _keep_warm(self, clients: OrderedDict[K, V], key: K, close: Callable[[V], None]) -> None:
        """Marks ``key`` most recently served and closes what falls past ``max_warm_tenants`` (held lock)."""
        clients.move_to_end(key)
        while len(clients) > self.max_warm_tenants:
            close(clients.popitem(last=False)[1])


def sparebank1_access(
    secretsmanager: Any, secret_id: str, *, custom_bank_urls: bool = False
) -> SpareBank1Access:
    """SpareBank 1's access for every tenant: the app token read from the stack's app secret."""
    from momentsync.connectors.sparebank1.access import SpareBank1Access
    from momentsync.connectors.sparebank1.auth import AppTokens

    secret = SpareBank1AppSecret(secretsmanager, secret_id)
    return SpareBank1Access(
        AppTokens(secret, fresh_credentials=secret.fresh), custom_bank_urls=custom_bank_urls
    )


def verify_tenant(
    secretsmanager: Any, secret_id: str, tenant: Tenant, *, custom_bank_urls: bool = False
) -> CompanyAccess:
    """Onboarding check for one tenant (the CLI's ``tenants verify``); raises a reason with its remedy."""
    return sparebank1_access(secretsmanager, secret_id, custom_bank_urls=custom_bank_urls).verify(tenant)
