"""Which hosts a tenant's bank may send us to, and what its ``/api/endpoints`` service map says.

SpareBank 1 Regnskap is one Unimicro platform behind many bank hosts (docs/reference/sparebank1.md §1.1). Our
app token is good for EVERY company that activated the app, so a host that receives it can read every tenant's
books: hosts therefore come only from an allowlist (docs/security.md, "SpareBank 1 hosts"):

* a listed bank: the bank's ``/api/endpoints`` may name AppFramework and Files only on the bank's own
  host or its subdomains (``files.regnskap.sb1.no``), Identity only on the bank's identity host(s), all
  over ``https``;
* a custom base URL (the escape hatch for an unlisted bank or a local emulator) only where the stack
  allows it (local and test stacks; ``SpareBank1CustomBankUrls`` is forced to ``refused`` in prod), and
  then every service must sit on the custom URL's own origin.

The table comes from third-party code, so it is configuration, not truth: add a missing bank here.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from momentsync.errors import PermanentError, TransientError
from momentsync.tls import client_tls_context

SHARED_IDENTITY_URL = "https://login.regnskap.sparebank1.no"
# The only stages where a bank given as a URL may be honoured. An allowlist, not "!= prod": a production
# stack called "production", "prod-eu" or "live" must refuse them too. template.yaml's rule says the same.
NON_PRODUCTION_STAGES = frozenset({"dev", "test", "local", "ci"})


def custom_bank_urls_permitted(setting: str, stage: str) -> bool:
    """``SpareBank1CustomBankUrls=allowed`` counts only on a non-production stage (defence in depth)."""
    return setting == "allowed" and stage in NON_PRODUCTION_STAGES


TEST_BANK = "test"
HOSTS_REMEDY = "docs/security.md#sparebank-1-hosts"


# A host name as DNS spells it: letters, digits and hyphens between dots. urlsplit takes anything in a
# netloc ("evil.com\\.regnskap.sb1.no", "a;b", "%2f"), which resolvers and httpx may read differently.
_DNS_NAME = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")
INVALID_ORIGIN = "invalid://"


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL (the port made explicit, so two spellings of one origin are equal).

    A URL urlsplit cannot read (a port out of range or not a number) has no origin: ``INVALID_ORIGIN``,
    equal to no real one.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
    except ValueError:
        return INVALID_ORIGIN
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


@dataclass(frozen=True)
class Bank:
    key: str
    name: str
    base_url: str
    # Used only when /api/endpoints names no Identity service; also the only identity host allowed.
    identity_url: str = SHARED_IDENTITY_URL
    # A custom base URL: every service must share its origin (no table vouches for other hosts).
    custom: bool = False

    @property
    def base_origin(self) -> str:
        return origin(self.base_url)


# Maintained list (docs/reference/sparebank1.md §1.1, [OBS] Metorial slates, 2026): add a bank here when one
# is missing.
BANKS: dict[str, Bank] = {
    bank.key: bank
    for bank in (
        Bank("sb1sornorge", "SpareBank 1 Regnskap Sør-Norge", "https://regnskap.sb1sornorge.no"),
        Bank("sb1ostlandet", "SpareBank 1 Regnskap Østlandet", "https://regnskap.sb1ostlandet.no"),
        Bank("snn", "SpareBank 1 Regnskap Nord-Norge", "https://regnskap.snn.no"),
        Bank("sb1", "SpareBank 1 Regnskap Hallingdal Valdres", "https://regnskap.sb1.no"),
        Bank("bank", "SpareBank 1 Regnskap Nordmøre", "https://regnskap.bank.no"),
        Bank("sparebank1oa", "SpareBank 1 Regnskap Østfold Akershus", "https://regnskap.sparebank1oa.no"),
        Bank("rhbank", "SpareBank 1 Regnskap Ringerike Hadeland", "https://regnskap.rhbank.no"),
        Bank("s1g", "SpareBank 1 Regnskap Gudbrandsdal", "https://regnskap.s1g.no"),
        Bank("sb1ls", "SpareBank 1 Regnskap Lom og Skjåk", "https://regnskap.sb1ls.no"),
        Bank("smn", "SpareBank 1 SMN Regnskap", "https://regnskap.smn.no"),
        # Unimicro's test environment: develop here, then switch the tenant to its bank.
        Bank(TEST_BANK, "Unimicro test", "https://test.unimicro.no", "https://test-login.unimicro.no"),
    )
}
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def resolve_bank(bank: str | None, *, custom_urls: bool = False) -> Bank:
    """The tenant's ``sparebank1_bank``: a key of ``BANKS`` or, where ``custom_urls``, a base URL."""
    value = (bank or "").strip()
    if not value:
        raise PermanentError(
            "the tenant has no SpareBank 1 bank configured (set sparebank1_bank to one of "
            f"{', '.join(sorted(BANKS))})"
        )
    known = BANKS.get(value.lower())
    if known is not None:
        return known
    if not custom_urls:
        raise PermanentError(
            f"unknown SpareBank 1 bank {value[:80]!r}: this stack accepts only the listed banks "
            f"({', '.join(sorted(BANKS))}); a missing bank is added to the table, never given as a URL "
            f"in production ({HOSTS_REMEDY})"
        )
    parts = urlsplit(value)
    # Our bearer token is good for every company that activated the app: it goes to https hosts only.
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS)
    if not (secure and parts.hostname) or parts.query or parts.fragment or parts.username or parts.password:
        raise PermanentError(
            f"unknown SpareBank 1 bank {value[:80]!r}: use one of {', '.join(sorted(BANKS))} "
            "or an https base URL"
        )
    base = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
    return Bank(key=base, name=base, base_url=base, identity_url=base, custom=True)


@dataclass(frozen=True)
class ServiceEndpoints:
    app_framework: str
    identity: str
    files: str | None


def _host_within(url: str, host: str) -> bool:
    """``url`` is https, without user info or an odd port, on ``host`` or one of its subdomains."""
    if not (url.isascii() and url.isprintable()) or " " in url:
        return False  # urlsplit silently drops tabs and newlines that httpx refuses or reads otherwise
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port out of range or not a number
        return False
    name = (parts.hostname or "").lower().rstrip(".")
    return (
        parts.scheme == "https"
        and port in (None, 443)
        and bool(_DNS_NAME.match(name))
        and not parts.username
        and not parts.password
        and (name == host or name.endswith("." + host))
    )


def check_endpoints(bank: Bank, services: ServiceEndpoints) -> ServiceEndpoints:
    """Every host the bank's service map names is one the allowlist gives that bank, or a permanent error."""
    wrong: list[str] = []
    if bank.custom:
        named = (
            ("AppFramework", services.app_framework),
            ("Identity", services.identity),
            ("Files", services.files),
        )
        for kind, url in named:
            if url is not None and origin(url) != bank.base_origin:
                wrong.append(f"{kind} {origin(url)}")
    else:
        bank_host = (urlsplit(bank.base_url).hostname or "").lower()
        identity_host = (urlsplit(bank.identity_url).hostname or "").lower()
        for kind, url, host in (
            ("AppFramework", services.app_framework, bank_host),
            ("Files", services.files, bank_host),
        ):
            if url is not None and not _host_within(url, host):
                wrong.append(f"{kind} {origin(url)}")
        # Identity exactly: a subdomain of the login host has no business minting our token.
        if origin(services.identity) != origin(bank.identity_url) or not _host_within(
            services.identity, identity_host
        ):
            wrong.append(f"Identity {origin(services.identity)}")
    if wrong:
        raise PermanentError(
            f"SpareBank 1 bank {bank.key} names hosts outside its allowlist ({'; '.join(wrong)}): "
            f"nothing was sent there ({HOSTS_REMEDY})"
        )
    return services


class EndpointDiscovery:
    """``GET {base}/api/endpoints`` (no auth), checked against the allowlist, cached per base URL."""

    def __init__(self, http: httpx.Client | None = None, *, ttl: float = 3600.0) -> None:
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(10.0, connect=5.0), verify=client_tls_context()
        )
        self._ttl = ttl
        self._cache: dict[str, tuple[float, ServiceEndpoints]] = {}
        self._lock = threading.Lock()

    def endpoints(self, bank: Bank) -> ServiceEndpoints:
        with self._lock:
            cached = self._cache.get(bank.base_url)
            if cached and cached[0] > time.monotonic():
                return cached[1]
        found = check_endpoints(bank, self._discover(bank))
        with self._lock:
            self._cache[bank.base_url] = (time.monotonic() + self._ttl, found)
        return found

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def _discover(self, bank: Bank) -> ServiceEndpoints:
        url = f"{bank.base_url}/api/endpoints"
        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise TransientError(
                f"SpareBank 1 endpoint discovery at {url} failed: {type(exc).__name__}"
            ) from None
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise TransientError(f"SpareBank 1 endpoint discovery at {url} answered {response.status_code}")
        if response.status_code != 200:
            raise PermanentError(
                f"SpareBank 1 endpoint discovery at {url} answered {response.status_code}: is the bank right?"
            )
        try:
            data = response.json()
        except ValueError:
            raise PermanentError(f"SpareBank 1 endpoint discovery at {url} did not answer JSON") from None
        services = {str(k).lower(): v for k, v in data.items()} if isinstance(data, dict) else {}

        def service(name: str) -> str | None:
            value = services.get(name.lower())
            return str(value).rstrip("/") if isinstance(value, str) and value.strip() else None

        return ServiceEndpoints(
            app_framework=service("AppFramework") or bank.base_url,
            identity=service("Identity") or bank.identity_url,
            files=service("Files"),
        )
