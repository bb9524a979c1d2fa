"""The optional CloudFront + WAF edge (WebhookEdge=cloudfront): the template wires it to every public
function, and the functions refuse requests that skipped it, before any table is read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.template import NO_VALUE, ROOT, LocalNames, Resolver, functions, load_template
from momentsync.public_edge import EDGE_HEADER, EdgeGate, public_base_url
from tests.edge_functions import LambdaContextStandIn, edge_stack, http_event, load_function, run_in_child

EDGE_ON = {
    "Stage": "dev",
    "WebhookEdge": "cloudfront",
    "WebhookEdgeWebAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/momentsync/0c0ffee0",
}
SECRET = "s" * 48


# ------------------------------------------------------------------ the gate
def test_without_an_edge_every_request_is_admitted():
    gate = EdgeGate(None)
    assert not gate.enabled and gate.admits({}) and gate.admits(None)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        None,
        {EDGE_HEADER: ""},
        {EDGE_HEADER: SECRET[:-1]},
        {EDGE_HEADER: SECRET + "s"},
        {EDGE_HEADER: "S" * 48},
        {"x-momentsync-edge-x": SECRET},
        {"x-forwarded-for": SECRET},
    ],
)
def test_with_an_edge_only_the_exact_header_value_is_admitted(headers):
    gate = EdgeGate(SECRET)
    assert not gate.admits(headers)
    assert gate.admits({EDGE_HEADER: SECRET})
    assert gate.admits({"X-Momentsync-Edge": SECRET})  # header names are case-insensitive


def test_a_short_edge_secret_is_refused_at_cold_start():
    with pytest.raises(ValueError, match="at least 32"):
        EdgeGate("short")


@pytest.mark.parametrize(
    ("domain", "proto", "configured", "expected"),
    [
        (
            "abc.execute-api.eu-north-1.amazonaws.com",
            None,
            None,
            "https://abc.execute-api.eu-north-1.amazonaws.com",
        ),
        (
            "abc.execute-api.eu-north-1.amazonaws.com",
            "http",
            None,
            "https://abc.execute-api.eu-north-1.amazonaws.com",
        ),
        (
            "abc.execute-api.eu-north-1.amazonaws.com",
            "http",
            "https://d1.cloudfront.net/",
            "https://d1.cloudfront.net",
        ),
        ("127.0.0.1:8080", "http", None, "http://127.0.0.1:8080"),
        ("localhost:8080", None, None, "http://localhost:8080"),
        ("[::1]", "https", None, "https://[::1]"),
        ("127.0.0.1:8080", "javascript", None, "http://127.0.0.1:8080"),
    ],
)
def test_public_base_url(domain, proto, configured, expected):
    assert public_base_url(domain, proto, configured) == expected


# ------------------------------------------------------------------ the template
@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _resolver(template, parameters: dict[str, str]) -> Resolver:
    names = LocalNames(parameters=parameters)
    names.physical["EdgeOriginSecret"] = "arn:aws:secretsmanager:eu-north-1:123456789012:secret:edge"
    names.attributes[("WebhookEdgeDistribution", "DomainName")] = "d1.cloudfront.net"
    return Resolver(template, names)


def _condition(template, parameters: dict[str, str], name: str) -> bool:
    return bool(_resolver(template, parameters).resolve(template["Conditions"][name]))


def _choose(node: Any, *, edge_on: bool) -> Any:
    """The template node with every ``!If [HasWebhookEdge, a, b]`` decided (NoValue dropped)."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"} and node["Fn::If"][0] == "HasWebhookEdge":
            return _choose(node["Fn::If"][1 if edge_on else 2], edge_on=edge_on)
        return {k: _choose(v, edge_on=edge_on) for k, v in node.items()}
    if isinstance(node, list):
        chosen = [_choose(v, edge_on=edge_on) for v in node]
        return [v for v in chosen if v != {"Ref": "AWS::NoValue"}]
    return node


def _public_functions(template) -> set[str]:
    return {spec.logical_id for spec in functions(template) if spec.http_routes}


def test_the_edge_is_off_by_default_and_creates_nothing(template):
    assert template["Parameters"]["WebhookEdge"]["Default"] == "none"
    assert not _condition(template, {"Stage": "dev"}, "HasWebhookEdge")
    resolver = _resolver(template, {"Stage": "dev"})
    for spec in functions(template):
        value = spec.environment.get("EDGE_ORIGIN_SECRET_ARN")
        assert value is None or resolver.resolve(value) is NO_VALUE


def test_with_the_edge_every_public_function_checks_its_header_and_only_they_read_its_secret(template):
    assert _condition(template, EDGE_ON, "HasWebhookEdge")
    resolver = _resolver(template, EDGE_ON)
    public = _public_functions(template)
    assert public == {"WebhookFunction", "ConnectFunction", "SelfServiceFunction"}
    checking = set()
    readers = set()
    for spec in functions(template):
        value = spec.environment.get("EDGE_ORIGIN_SECRET_ARN")
        if value is not None and resolver.resolve(value) is not NO_VALUE:
            checking.add(spec.logical_id)
        policies = template["Resources"][spec.logical_id]["Properties"].get("Policies", [])
        if '{"Ref": "EdgeOriginSecret"}' in json.dumps(_choose(policies, edge_on=True)):
            readers.add(spec.logical_id)
        assert '"EdgeOriginSecret"' not in json.dumps(_choose(policies, edge_on=False))
    assert checking == public  # a new public function cannot forget the check
    assert readers == public
    # Links and Fiken's redirect URI name the edge, never the execute-api address.
    for logical_id in ("ConnectFunction", "SelfServiceFunction"):
        [spec] = [f for f in functions(template) if f.logical_id == logical_id]
        assert resolver.resolve(spec.environment["PUBLIC_BASE_URL"]) == "https://d1.cloudfront.net"
    outputs = template["Outputs"]
    assert resolver.resolve(outputs["WebhookBaseUrl"]["Value"]) == "https://d1.cloudfront.net"
    assert (
        resolver.resolve(outputs["FikenRedirectUri"]["Value"])
        == "https://d1.cloudfront.net/oauth/fiken/callback"
    )


def test_the_distribution_sends_the_header_carries_the_web_acl_and_caches_nothing(template):
    distribution = template["Resources"]["WebhookEdgeDistribution"]
    assert distribution["Condition"] == "HasWebhookEdge"
    config = distribution["Properties"]["DistributionConfig"]
    assert config["WebACLId"] == {"Ref": "WebhookEdgeWebAclArn"}
    [origin] = config["Origins"]
    [header] = origin["OriginCustomHeaders"]
    assert header["HeaderName"].lower() == EDGE_HEADER
    assert "EdgeOriginSecret" in json.dumps(header["HeaderValue"])
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "https-only"
    assert behaviour["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # managed CachingDisabled
    assert "POST" in behaviour["AllowedMethods"]
    secret = template["Resources"]["EdgeOriginSecret"]["Properties"]["GenerateSecretString"]
    assert secret["PasswordLength"] >= 32


def test_the_edge_cannot_be_enabled_without_a_web_acl(template):
    rule = template["Rules"]["WebhookEdgeNeedsWebAcl"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "WebhookEdge"}, "cloudfront"]}
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "WebhookEdgeWebAclArn"}, ""]}]
    }


def test_the_waf_template_limits_per_source_and_per_tenant_and_blocks_unknown_paths():
    waf = load_template(ROOT / "edge" / "webhook-waf.yaml")
    acl = waf["Resources"]["WebhookWebAcl"]["Properties"]
    assert acl["Scope"] == "CLOUDFRONT"
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    per_source = rules["PerSourceLimit"]["Statement"]["RateBasedStatement"]
    assert per_source["AggregateKeyType"] == "IP"
    per_tenant = rules["PerTenantLimit"]["Statement"]["RateBasedStatement"]
    assert per_tenant["AggregateKeyType"] == "CUSTOM_KEYS"
    assert "UriPath" in per_tenant["CustomKeys"][0]
    assert "UnknownPaths" in rules
    for name in ("PerSourceLimit", "PerTenantLimit"):
        assert rules[name]["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    # Every route of the API is one of the prefixes the web ACL lets through.
    prefixes = json.dumps(rules["UnknownPaths"]["Statement"])
    for spec in functions(load_template()):
        for _method, path in spec.http_routes:
            first = "/" + path.strip("/").split("/")[0] + "/"
            assert first in prefixes, path


# ------------------------------------------------------------------ the functions
# The functions run in a child process (tests/edge_functions.py): moto's in-process mock patches botocore for
# the whole process and would capture a local stack that another test runs in this pytest worker.
WEBHOOK_PATH = "/webhooks/moment/t-1/" + "x" * 43
CASES: list[tuple[str, str, str, dict[str, str]]] = [
    (function, method, path, headers)
    for function, method, path in [
        ("webhook", "POST", WEBHOOK_PATH),
        ("connect", "GET", "/connect/fiken/t-1"),
        ("connect", "GET", "/oauth/fiken/callback"),
        ("selfservice", "GET", "/tenant/t-1"),
    ]
    for headers in [
        {},
        {EDGE_HEADER: "guess" * 10},
        {EDGE_HEADER: SECRET[:-1]},
        {"x-forwarded-for": "1.2.3.4"},
    ]
] + [
    ("webhook", "POST", WEBHOOK_PATH, {EDGE_HEADER: SECRET, "content-type": "application/json"}),
    ("connect", "GET", "/connect/fiken/t-1", {EDGE_HEADER: SECRET}),
    ("selfservice", "GET", "/tenant/t-1", {"X-Momentsync-Edge": SECRET}),
]


def run_functions_behind_the_edge() -> None:
    """Child process: each case's answer and the queue depth after it."""
    with edge_stack(SECRET) as aws:
        functions_ = {name: load_function(name) for name in ("webhook", "connect", "selfservice")}
        results = []
        for function, method, path, headers in CASES:
            body = (
                json.dumps({"event": "customer.created", "customer": {"id": 1}}) if method == "POST" else ""
            )
            event = http_event(method, path, headers, body)
            answer = functions_[function].lambda_handler(event, LambdaContextStandIn())
            depth = aws["sqs"].get_queue_attributes(
                QueueUrl=aws["queue"], AttributeNames=["ApproximateNumberOfMessages"]
            )
            results.append(
                {
                    "status": answer["statusCode"],
                    "body": answer.get("body") or "",
                    "queued": int(depth["Attributes"]["ApproximateNumberOfMessages"]),
                }
            )
    print("RESULTS " + json.dumps(results))


@pytest.fixture(scope="module")
def answers() -> dict[tuple[str, str, str, str], dict[str, Any]]:
    results, printed = run_in_child("tests.unit.test_public_edge", "run_functions_behind_the_edge")
    assert SECRET not in printed  # the edge secret is never logged
    return {
        (f, m, p, json.dumps(h, sort_keys=True)): r for (f, m, p, h), r in zip(CASES, results, strict=True)
    }


@pytest.mark.parametrize(
    "case", [c for c in CASES if c[3].get(EDGE_HEADER) != SECRET and "X-Momentsync-Edge" not in c[3]]
)
def test_a_request_that_skipped_the_edge_is_refused_before_any_work(answers, case):
    function, method, path, headers = case
    answer = answers[(function, method, path, json.dumps(headers, sort_keys=True))]
    assert answer["status"] == 403
    assert json.loads(answer["body"])["error"] == "forbidden"
    assert answer["queued"] == 0


def test_a_request_through_the_edge_reaches_the_function(answers):
    through = [a for (f, m, p, h), a in answers.items() if SECRET in h]
    assert len(through) == 3
    webhook, landing, page = through
    assert webhook["status"] == 404  # past the edge: an unknown tenant, judged by the function itself
    for answer in (landing, page):
        assert answer["status"] != 403 or "forbidden" not in answer["body"]
        assert answer["status"] < 500
