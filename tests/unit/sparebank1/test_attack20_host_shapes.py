"""Attack on #20's SpareBank 1 allowlist with host spellings the earlier attacks did not try: IDN and
punycode look-alikes, IPv6 and IPv4-mapped literals, trailing dots on the identity host, userinfo and
ports on a custom (loopback) bank, stage names near the allowlist. All withstood."""

from __future__ import annotations

import pytest

from momentsync.connectors.sparebank1.hosts import ServiceEndpoints as Services
from momentsync.connectors.sparebank1.hosts import check_endpoints, custom_bank_urls_permitted, resolve_bank
from momentsync.errors import PermanentError

LOGIN = "https://login.regnskap.sparebank1.no"
SMN = "https://regnskap.smn.no"


@pytest.mark.parametrize(
    ("app_framework", "identity"),
    [
        ("https://regnskap.smn.n\u00f6", LOGIN),  # IDN
        ("https://\uff52egnskap.smn.no", LOGIN),  # fullwidth r: IDNA would fold it to the bank's host
        ("https://regnskap.xn--smn-0na.no", LOGIN),  # punycode look-alike
        ("https://[::1]", LOGIN),
        ("https://[::ffff:93.184.216.34]", LOGIN),
        ("https://93.184.216.34", LOGIN),
        ("https://regnskap.smn.no\u3002evil.example", LOGIN),  # ideographic full stop
        (SMN, LOGIN + "."),  # trailing dot: another origin string, never the minting host
        (SMN, "https://LOGIN.regnskap.sparebank1.no.:443"),
        (SMN, "https://login.regnskap.sparebank1.no:8443"),
        (SMN, "http://login.regnskap.sparebank1.no"),
        (SMN, "https://user@login.regnskap.sparebank1.no"),
        (SMN, "https://login.regnskap.sparebank1.no\\@evil.example"),
    ],
)
def test_look_alike_and_literal_hosts_are_refused_for_a_listed_bank(app_framework, identity):
    with pytest.raises(PermanentError, match="outside its allowlist"):
        check_endpoints(resolve_bank("smn"), Services(app_framework, identity, None))


@pytest.mark.parametrize(
    "services",
    [
        Services("http://[::ffff:127.0.0.1]:8083", "http://127.0.0.1:8083", None),
        Services("http://localhost:8083", "http://127.0.0.1:8083", None),
        Services("http://127.0.0.1:8083", "http://127.0.0.1:80", None),
        Services("https://127.0.0.1:8083", "http://127.0.0.1:8083", None),
        Services("http://127.0.0.1:8083", "http://127.0.0.1:8083\\@evil.example", None),
    ],
)
def test_a_custom_loopback_bank_accepts_only_its_exact_origin(services):
    bank = resolve_bank("http://127.0.0.1:8083", custom_urls=True)
    with pytest.raises(PermanentError, match="outside its allowlist"):
        check_endpoints(bank, services)


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example",  # plain http off loopback
        "https://user:pw@127.0.0.1:8083",
        "http://127.0.0.1.nip.io:8083",
        "http://localhost.:8083",
        "https://x.example/?q=1",
        "javascript:alert(1)",
    ],
)
def test_odd_custom_bank_urls_are_refused_even_where_allowed(url):
    with pytest.raises(PermanentError):
        resolve_bank(url, custom_urls=True)


@pytest.mark.parametrize("stage", ["prod", "production", "Dev", "dev ", "DEV", "test-prod", "", "local\n"])
def test_custom_bank_urls_count_only_on_exactly_the_listed_stages(stage):
    assert not custom_bank_urls_permitted("allowed", stage)
    assert custom_bank_urls_permitted("allowed", "dev")
    assert not custom_bank_urls_permitted("Allowed", "dev")
