"""Which host a tenant's bank uses, and what its ``/api/endpoints`` service map says.

SpareBank 1 Regnskap is one Unimicro platform behind many bank hosts (sparebank1.md §1.1); the table
comes from third-party code, so it is configuration, not truth: a bank missing here is reached through
the escape hatch (the tenant's ``sparebank1_bank`` set to its base URL, ``https://`` only, except a
local emulator on ``http://127.0.0.1``/``localhost``). Satellite hosts (identity, files) are never
hard-coded: ``GET {base}/api/endpoints`` names them, and the answer is cached per process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from momentsync.errors import PermanentError, TransientError

SHARED_IDENTITY_URL = "https://login.regnskap.sparebank1.no"
TEST_BANK = "test"


@dataclass(frozen=True)
class Bank:
    key: str
    name: str
    base_url: str
    # Used only when /api/endpoints names no Identity service.
    identity_url: str = SHARED_IDENTITY_URL


# Maintained list (sparebank1.md §1.1, [OBS] Metorial slates, 2026): add a bank here when one is missing.
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


def resolve_bank(bank: str | None) -> Bank:
    """The tenant's ``sparebank1_bank``: a key of ``BANKS`` or (escape hatch) a base URL."""
    value = (bank or "").strip()
    if not value:
        raise PermanentError(
            "the tenant has no SpareBank 1 bank configured (set sparebank1_bank to one of "
            f"{', '.join(sorted(BANKS))}, or to the bank's base URL)"
        )
    known = BANKS.get(value.lower())
    if known is not None:
        return known
    parts = urlsplit(value)
    # Our bearer token is good for every company that activated the app: it goes to https hosts only.
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS)
    if not (secure and parts.hostname) or parts.query or parts.fragment:
        raise PermanentError(
            f"unknown SpareBank 1 bank {value!r}: use one of {', '.join(sorted(BANKS))} or an https base URL"
        )
    base = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
    return Bank(key=base, name=base, base_url=base)


@dataclass(frozen=True)
class ServiceEndpoints:
    app_framework: str
    identity: str
    files: str | None


class EndpointDiscovery:
    """``GET {base}/api/endpoints`` (no auth), cached per base URL for ``ttl`` seconds."""

    def __init__(self, http: httpx.Client | None = None, *, ttl: float = 3600.0) -> None:
        self._http = http or httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0))
        self._ttl = ttl
        self._cache: dict[str, tuple[float, ServiceEndpoints]] = {}
        self._lock = threading.Lock()

    def endpoints(self, bank: Bank) -> ServiceEndpoints:
        with self._lock:
            cached = self._cache.get(bank.base_url)
            if cached and cached[0] > time.monotonic():
                return cached[1]
        found = self._discover(bank)
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
