"""Attacks on the optional edge (#20, WebhookEdge=cloudfront): the web ACL's rules evaluated as WAF
evaluates them (the statements the template uses), and the origin gate given header tricks."""

from __future__ import annotations

from typing import Any

import pytest

from local.template import ROOT, functions, load_template
from momentsync.public_edge import EDGE_HEADER, EdgeGate

SECRET = "k" * 48


def _matches(statement: dict[str, Any], path: str) -> bool:
    """WAF's verdict for the statement kinds the web ACL uses, on a request with this URI path."""
    (kind, body), *_ = statement.items()
    if kind == "ByteMatchStatement":
        assert "UriPath" in body["FieldToMatch"] and body["PositionalConstraint"] == "STARTS_WITH"
        return path.startswith(body["SearchString"])
    if kind == "NotStatement":
        return not _matches(body["Statement"], path)
    if kind == "OrStatement":
        return any(_matches(s, path) for s in body["Statements"])
    if kind == "AndStatement":
        return all(_matches(s, path) for s in body["Statements"])
    raise AssertionError(f"statement {kind} not modelled")


@pytest.fixture(scope="module")
def rules() -> dict[str, dict[str, Any]]:
    acl = load_template(ROOT / "edge" / "webhook-waf.yaml")["Resources"]["WebhookWebAcl"]["Properties"]
    return {rule["Name"]: rule for rule in acl["Rules"]}


def _counted_per_path(rules, path: str) -> bool:
    """Whether a request to ``path`` counts against a rate key made of its path (PerTenantLimit)."""
    rate = rules["PerTenantLimit"]["Statement"]["RateBasedStatement"]
    assert [list(k) for k in rate["CustomKeys"]] == [["UriPath"]]
    scope = rate.get("ScopeDownStatement")
    return scope is None or _matches(scope, path)


def _route_paths() -> list[str]:
    """Every route of the API with sample values in its parameters."""
    samples = {"tenant_id": "acme", "secret": "s" * 43, "action": "open"}
    paths = []
    for spec in functions(load_template()):
        for _method, path in spec.http_routes:
            for name, value in samples.items():
                path = path.replace("{" + name + "}", value)
            paths.append(path)
    return paths


def test_no_path_shared_by_tenants_or_free_of_a_secret_is_rate_keyed_by_path(rules):
    """Keyed by the path, /oauth/fiken/callback (one path for every tenant) was one bucket: a single
    source at 5 requests/s kept every tenant's connect callback (a person's consent) at 429."""
    for path in _route_paths():
        shared = not path.startswith("/webhooks/")
        assert _counted_per_path(rules, path) is not shared, path
    assert any(p == "/oauth/fiken/callback" for p in _route_paths())


def test_every_route_passes_the_unknown_paths_rule_and_scanner_paths_do_not(rules):
    block = rules["UnknownPaths"]["Statement"]
    for path in _route_paths():
        assert not _matches(block, path), path
    for path in ("/", "/.env", "/wp-login.php", "/Webhooks/moment/acme/x", "/webhooksX/a", "//webhooks/a"):
        assert _matches(block, path), path


@pytest.mark.parametrize(
    "headers",
    [
        {EDGE_HEADER: f"{SECRET},{SECRET}"},  # API Gateway joins a repeated header with commas
        {EDGE_HEADER: f"{SECRET}, guess"},
        {EDGE_HEADER: f" {SECRET}"},
        {EDGE_HEADER: f"{SECRET}\t"},
        {EDGE_HEADER: SECRET.upper()},
        {EDGE_HEADER: SECRET + "\u00e9"},
        {EDGE_HEADER: ""},
        {"x-momentsync-edge-": SECRET},
        {"x_momentsync_edge": SECRET},
        {"x-forwarded-x-momentsync-edge": SECRET},
        {},
    ],
)
def test_header_tricks_never_pass_the_gate(headers):
    assert not EdgeGate(SECRET).admits(headers)


def test_the_header_passes_in_any_case_of_its_name():
    for name in (EDGE_HEADER, EDGE_HEADER.upper(), "X-Momentsync-Edge"):
        assert EdgeGate(SECRET).admits({name: SECRET})


def test_no_request_that_can_be_a_webhook_is_kept_as_a_sampled_request(rules):
    """WAF keeps the URI of sampled requests: a webhook path carries the tenant's secret. The web ACL's
    own sampling covers every allowed request, and the rate rules block real webhooks above a limit;
    only the rule for unknown paths (never a route) may keep samples."""
    acl = load_template(ROOT / "edge" / "webhook-waf.yaml")["Resources"]["WebhookWebAcl"]["Properties"]
    assert acl["VisibilityConfig"]["SampledRequestsEnabled"] is False
    webhook = "/webhooks/moment/acme/" + "s" * 43
    for name, rule in rules.items():
        statement = rule["Statement"]
        # A rate rule blocks whatever exceeds it, webhooks too.
        can_hold_a_webhook = "RateBasedStatement" in statement or _matches(statement, webhook)
        if can_hold_a_webhook:
            assert rule["VisibilityConfig"]["SampledRequestsEnabled"] is False, name
    assert rules["UnknownPaths"]["VisibilityConfig"]["SampledRequestsEnabled"] is True
