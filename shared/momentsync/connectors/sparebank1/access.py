"""Reaching a tenant's SpareBank 1 company: its bank's hosts, the app's token, and the onboarding check.

``SpareBank1Access`` is built once per process (the app token and the endpoint map are shared by every
tenant); ``client_for`` gives a tenant its client, ``verify`` proves at onboarding that a token reaches
the company (``momentsync tenants verify TENANT``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import httpx

from momentsync.connectors.sparebank1.auth import AppTokens
from momentsync.connectors.sparebank1.client import ACTIVATION_REMEDY, SpareBank1Client
from momentsync.connectors.sparebank1.hosts import EndpointDiscovery, resolve_bank
from momentsync.errors import TenantLevelError, TenantProblem
from momentsync.tenants import Tenant

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
COMPANY_KEY_REMEDY = (
    "Set the tenant's SpareBank 1 company key (the customer finds it under ? > Systeminformasjon), "
    "then resume the tenant"
)


@dataclass(frozen=True)
class CompanyAccess:
    company_key: str
    company_name: str | None
    base_url: str
    identity_url: str


class SpareBank1Access:
    def __init__(
        self,
        tokens: AppTokens,
        *,
        discovery: EndpointDiscovery | None = None,
        http: httpx.Client | None = None,
        custom_bank_urls: bool = False,
    ) -> None:
        self.tokens = tokens
        # A bank given as a URL (not a key of the table): local and test stacks only (hosts.py).
        self.custom_bank_urls = custom_bank_urls
        self.discovery = discovery or EndpointDiscovery()
        self._http = http
        self._clients: dict[tuple[str, str, str], SpareBank1Client] = {}
        self._lock = threading.Lock()

    def client_for(self, tenant: Tenant) -> SpareBank1Client:
        company_key = (tenant.sparebank1_company_key or "").strip()
        if not _GUID.match(company_key):
            raise TenantLevelError(
                TenantProblem.API_ACCESS_MISSING,
                "the tenant has no valid SpareBank 1 company key (a GUID)",
                remedy=COMPANY_KEY_REMEDY,
            )
        bank = resolve_bank(tenant.sparebank1_bank, custom_urls=self.custom_bank_urls)
        key = (tenant.tenant_id, bank.base_url, company_key.lower())
        with self._lock:
            client = self._clients.get(key)
        if client is not None:
            return client
        services = self.discovery.endpoints(bank)
        client = SpareBank1Client(
            base_url=services.app_framework,
            company_key=company_key,
            # The token is keyed by both hosts: minted at this identity, sent only to this API origin.
            tokens=self.tokens.for_hosts(services.identity, services.app_framework),
            http=self._http,
        )
        with self._lock:
            return self._clients.setdefault(key, client)

    def verify(self, tenant: Tenant) -> CompanyAccess:
        """A token reaches the company: ``/api/init/companies`` lists its key, and a business call passes."""
        client = self.client_for(tenant)
        companies = client.companies()
        match = next((c for c in companies if c.key.lower() == client.company_key.lower()), None)
        if match is None:
            raise TenantLevelError(
                TenantProblem.API_ACCESS_MISSING,
                f"momentsync's app is not activated for company key {client.company_key} "
                f"(the app may act on {len(companies)} other compan{'y' if len(companies) == 1 else 'ies'})",
                remedy=ACTIVATION_REMEDY,
            )
        # The activation gate answers business calls, not the company list: one cheap read proves both.
        client.list("currencycodes", top=1, select="ID,Code")
        services = self.discovery.endpoints(
            resolve_bank(tenant.sparebank1_bank, custom_urls=self.custom_bank_urls)
        )
        return CompanyAccess(
            company_key=match.key,
            company_name=match.Name or match.CompanyName,
            base_url=services.app_framework,
            identity_url=services.identity,
        )
