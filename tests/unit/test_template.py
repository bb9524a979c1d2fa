"""template.yaml: the properties the design depends on, and function environments matching settings."""

from __future__ import annotations

import json

import pytest

from local.template import NO_VALUE, LocalNames, Resolver, functions, load_template
from momentsync.connectors.sparebank1.hosts import NON_PRODUCTION_STAGES, custom_bank_urls_permitted
from momentsync.settings import (
    ConnectSettings,
    HealthSettings,
    ProcessorSettings,
    ReconcileSettings,
    SelfServiceSettings,
    WebhookSettings,
)

SETTINGS = {
    "WebhookFunction": WebhookSettings,
    "ProcessorFunction": ProcessorSettings,
    "ConnectFunction": ConnectSettings,
    "ReconcileFunction": ReconcileSettings,
    "HealthFunction": HealthSettings,
    "SelfServiceFunction": SelfServiceSettings,
    "DeepCheckFunction": ProcessorSettings,
}
# Read by Powertools itself, not by our settings models.
POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}


@pytest.fixture(scope="module")
def template():
    return load_template()


@pytest.mark.parametrize("logical_id", sorted(SETTINGS))
def test_function_environment_matches_its_settings_model(template, logical_id):
    [spec] = [f for f in functions(template) if f.logical_id == logical_id]
    given = {name.lower() for name in spec.environment} - {v.lower() for v in POWERTOOLS_VARIABLES}
    model = SETTINGS[logical_id]
    declared = set(model.model_fields)
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    assert required <= given, f"{logical_id} lacks {sorted(required - given)}"
    assert given <= declared, f"{logical_id} gets variables no setting reads: {sorted(given - declared)}"


def test_main_queue_is_fifo_without_content_deduplication_and_high_throughput(template):
    queue = template["Resources"]["EventQueue"]["Properties"]
    assert queue["FifoQueue"] is True
    assert queue["ContentBasedDeduplication"] is False
    assert queue["DeduplicationScope"] == "messageGroup"
    assert queue["FifoThroughputLimit"] == "perMessageGroupId"
    assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}


def test_visibility_timeout_is_at_least_six_times_the_processor_timeout(template):
    visibility = template["Resources"]["EventQueue"]["Properties"]["VisibilityTimeout"]
    timeout = int(template["Parameters"]["ProcessorTimeoutSeconds"]["Default"])
    rendered = int(visibility["Fn::Sub"].replace("${ProcessorTimeoutSeconds}", str(timeout)))
    assert rendered >= 6 * timeout
    for allowed in (
        template["Parameters"]["ProcessorTimeoutSeconds"]["MinValue"],
        template["Parameters"]["ProcessorTimeoutSeconds"]["MaxValue"],
    ):
        rendered = int(visibility["Fn::Sub"].replace("${ProcessorTimeoutSeconds}", str(allowed)))
        assert 6 * allowed <= rendered <= 43200  # SQS's maximum visibility timeout


def test_dead_letter_queue_is_fifo_and_allows_redrive_from_the_main_queue(template):
    dlq = template["Resources"]["DeadLetterQueue"]["Properties"]
    assert dlq["FifoQueue"] is True
    assert dlq["RedriveAllowPolicy"]["redrivePermission"] == "byQueue"


def test_processor_event_source_reports_partial_batch_failures(template):
    [spec] = [f for f in functions(template) if f.logical_id == "ProcessorFunction"]
    [source] = spec.sqs_sources
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["BatchSize"] == 10
    assert source["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "MaximumConcurrency"}


def test_webhook_may_only_read_tenants_and_send_to_the_main_queue(template):
    policies = template["Resources"]["WebhookFunction"]["Properties"]["Policies"]
    statements = [s for policy in policies for s in policy["Statement"]]
    # The optional edge's header secret (tests/unit/test_public_edge.py) is the only conditional grant.
    conditional = [s["Fn::If"] for s in statements if "Fn::If" in s]
    assert [(c[0], c[1]["Resource"], c[2]) for c in conditional] == [
        ("HasWebhookEdge", {"Ref": "EdgeOriginSecret"}, {"Ref": "AWS::NoValue"})
    ]
    granted = {(s["Action"], s["Resource"]["Fn::GetAtt"][0]) for s in statements if "Fn::If" not in s}
    assert granted == {("dynamodb:GetItem", "TenantsTable"), ("sqs:SendMessage", "EventQueue")}


def test_tables_are_on_demand_with_recovery_and_encryption(template):
    tables = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert len(tables) >= 4
    for table in tables:
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert table["SSESpecification"]["SSEEnabled"] is True


def test_access_log_never_records_the_request_path(template):
    log_format = template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]["Format"]
    assert "$context.path" not in log_format
    assert "$context.routeKey" in log_format


@pytest.mark.parametrize(("given", "expected"), [(None, None), ("0.6", 0.6)], ids=["default-off", "set"])
def test_app_wide_fiken_pace_reaches_the_processor_only_when_its_parameter_is_set(
    template, monkeypatch, given, expected
):
    [spec] = [f for f in functions(template) if f.logical_id == "ProcessorFunction"]
    parameters = {"FikenAppMinRequestIntervalSeconds": given} if given else {}
    value = Resolver(template, LocalNames(parameters=parameters)).resolve(
        spec.environment["FIKEN_APP_MIN_REQUEST_INTERVAL_SECONDS"]
    )
    if given is None:
        assert value is NO_VALUE  # CloudFormation leaves the variable out: the setting stays None
    else:
        monkeypatch.setenv("FIKEN_APP_MIN_REQUEST_INTERVAL_SECONDS", value)
        for name, setting in ProcessorSettings.model_fields.items():
            if setting.is_required():
                monkeypatch.setenv(name.upper(), "x")
        assert ProcessorSettings().fiken_app_min_request_interval_seconds == expected


def test_only_non_production_stages_accept_sparebank1_banks_given_as_urls(template):
    assert template["Parameters"]["SpareBank1CustomBankUrls"]["Default"] == "refused"
    rule = template["Rules"]["ProdRefusesCustomBankUrls"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "SpareBank1CustomBankUrls"}, "allowed"]}
    [assertion] = rule["Assertions"]
    stages, stage = assertion["Assert"]["Fn::Contains"]
    assert stage == {"Ref": "Stage"}
    # The template's list and the processor's are the same list.
    assert set(stages) == NON_PRODUCTION_STAGES


@pytest.mark.parametrize("stage", ["prod", "production", "prod-eu", "live", "staging", "p"])
def test_the_processor_refuses_bank_urls_on_any_other_stage_whatever_the_parameter_says(stage):
    assert not custom_bank_urls_permitted("allowed", stage)
    assert custom_bank_urls_permitted("allowed", "dev")
    assert not custom_bank_urls_permitted("refused", "dev")


def test_tenant_secrets_are_named_per_stack_not_per_stage(template):
    """Two stacks with one stage in one account and region must never share tenants' credentials (#20)."""
    prefix = "momentsync/${AWS::StackName}/tenants"
    readers = 0
    for spec in functions(template):
        if "CREDENTIALS_SECRET_PREFIX" in spec.environment:
            assert spec.environment["CREDENTIALS_SECRET_PREFIX"] == {"Fn::Sub": prefix}
            readers += 1
    text = json.dumps(template)
    assert "${Stage}/tenants" not in text
    assert readers >= 2  # at least the processor and the connect function
    assert text.count(f":secret:{prefix}/*") == readers  # one grant per function that reads them
    assert template["Outputs"]["CredentialsSecretPrefix"]["Value"] == {"Fn::Sub": prefix}


def test_the_api_throttle_is_a_parameter_an_operator_can_raise_during_a_flood(template):
    settings = template["Resources"]["HttpApi"]["Properties"]["DefaultRouteSettings"]
    assert settings == {
        "ThrottlingBurstLimit": {"Ref": "ApiThrottleBurst"},
        "ThrottlingRateLimit": {"Ref": "ApiThrottleRate"},
    }
    assert (
        template["Parameters"]["ApiThrottleRate"]["Default"],
        template["Parameters"]["ApiThrottleBurst"]["Default"],
    ) == (
        100,
        200,
    )
