"""A deploy cannot silently change stage, and a second stack (or an upgrade) does not collide with
names the first one took: template.yaml's side, and the CLI's refusal of a stack whose stage differs
from its samconfig env."""

from __future__ import annotations

import json
import uuid

import pytest

from local.template import LocalNames, Resolver, load_template
from momentsync.cli.target import StackNotFound, resolve_target, samconfig_parameter_overrides

OUTPUTS = (
    "WebhookBaseUrl",
    "TenantsTableName",
    "SyncStateTableName",
    "TransferLogTableName",
    "ParkedEventsTableName",
    "EventQueueUrl",
    "DeadLetterQueueUrl",
    "CredentialsSecretPrefix",
)


@pytest.fixture(scope="module")
def template():
    return load_template()


def test_stage_has_no_default_so_a_deploy_that_drops_it_is_refused(template):
    # `sam deploy --parameter-overrides X=...` replaces samconfig's overrides: with a default, a new
    # production stack would silently have become "dev".
    assert "Default" not in template["Parameters"]["Stage"]


def test_every_samconfig_env_names_its_stage():
    for env in ("default", "norway-prod", "ireland-prod", "staging"):
        assert samconfig_parameter_overrides(env)["Stage"]


def test_function_log_groups_are_unnamed_and_given_to_the_function(template):
    resources = template["Resources"]
    for function in ("WebhookFunction", "ConnectFunction", "ProcessorFunction"):
        logs = resources[f"{function}Logs"]
        # A fixed /aws/lambda/<function> name collides with the group Lambda creates on first run.
        assert "LogGroupName" not in logs["Properties"]
        assert logs["UpdateReplacePolicy"] == "Retain"
        config = resources[function]["Properties"]["LoggingConfig"]
        assert config == {"LogFormat": "JSON", "LogGroup": {"Ref": f"{function}Logs"}}


def test_ses_identity_is_created_only_when_asked_so_a_second_stack_can_share_it(template):
    identity = template["Resources"]["NotificationSenderIdentity"]
    assert identity["Condition"] == "CreatesSesIdentity"
    assert template["Parameters"]["SesSenderIdentity"]["AllowedValues"] == ["create", "existing"]
    names = LocalNames(parameters={"Stage": "dev"})
    for ses, identity_choice, creates in [
        ("enabled", "create", True),
        ("enabled", "existing", False),
        ("disabled", "create", False),
    ]:
        names.parameters.update(SesNotifications=ses, SesSenderIdentity=identity_choice)
        resolver = Resolver(template, names)
        assert resolver.resolve(template["Conditions"]["CreatesSesIdentity"]) is creates


def test_processor_timeout_description_matches_the_visibility_timeout(template):
    visibility = template["Resources"]["EventQueue"]["Properties"]["VisibilityTimeout"]
    assert visibility == {"Fn::Sub": "${ProcessorTimeoutSeconds}0"}  # ten times
    assert "ten times" in template["Parameters"]["ProcessorTimeoutSeconds"]["Description"]


def deploy_fake_stack(cloudformation, stack_name: str, stage: str) -> None:
    """A CloudFormation stack on moto with our Stage parameter and the outputs the CLI reads."""
    body = {
        "Parameters": {"Stage": {"Type": "String"}},
        "Resources": {"Nothing": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {name: {"Value": f"{name}-value"} for name in OUTPUTS},
    }
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}],
    )


@pytest.fixture
def samconfig(stack, tmp_path, monkeypatch):
    """The local stack's moto server (never mock_aws here: it would reset the server's shared state under
    the other tests of this worker), a samconfig naming a stack on it, and that stack's name."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.describe()["aws_endpoint_url"])
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "local")
    name = f"momentsync-prod-{uuid.uuid4().hex[:8]}"
    (tmp_path / "samconfig.toml").write_text(
        f'version = 0.1\n[norway-prod.deploy.parameters]\nstack_name = "{name}"\n'
        'region = "eu-north-1"\nparameter_overrides = "Stage=prod MaxReceiveCount=5"\n'
    )
    return name, stack.aws.client("cloudformation")


def test_cli_refuses_a_stack_whose_stage_is_not_its_config_envs(samconfig):
    name, cloudformation = samconfig
    deploy_fake_stack(cloudformation, name, "dev")  # deployed with overrides that dropped Stage=prod
    with pytest.raises(StackNotFound) as refused:
        resolve_target(local=False, stack=None, region=None, config_env="norway-prod")
    assert "runs Stage=dev, but samconfig.toml says Stage=prod" in str(refused.value)
    assert "momentsync/dev/" in str(refused.value)
    # Named explicitly, the operator can still reach it as it is.
    target = resolve_target(local=False, stack=name, region="eu-north-1", config_env=None)
    assert target.tenants_table == "TenantsTableName-value"


def test_cli_accepts_a_stack_whose_stage_matches(samconfig):
    name, cloudformation = samconfig
    deploy_fake_stack(cloudformation, name, "prod")
    target = resolve_target(local=False, stack=None, region=None, config_env="norway-prod")
    assert target.credentials_secret_prefix == "CredentialsSecretPrefix-value"
