"""Which stack the CLI talks to: a deployed one (CloudFormation outputs) or the local one of make run."""

from __future__ import annotations

import json
import os
import shlex
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_MOMENT_API_BASE_URL = "https://app.moment.team/api/1.0"


def local_state_file() -> Path:
    """Read at call time, so tests (and wrappers) can point MOMENTSYNC_LOCAL_STATE elsewhere."""
    return Path(os.environ.get("MOMENTSYNC_LOCAL_STATE", ".local-stack.json"))


class StackNotFound(RuntimeError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class StackTarget:
    """Names of the resources the CLI reads and writes, and where AWS is."""

    region: str
    webhook_base_url: str
    tenants_table: str
    sync_state_table: str
    transfer_log_table: str
    parked_events_table: str
    event_queue_url: str
    dead_letter_queue_url: str
    credentials_secret_prefix: str
    endpoint_url: str | None = None
    # Operations: the audit trail the CLI writes, and what `momentsync resync --since` reads from.
    audit_table: str = ""
    notifications_table: str = ""
    operator_topic_arn: str = ""
    moment_api_base_url: str = DEFAULT_MOMENT_API_BASE_URL
    stack_name: str = ""
    # The local stack's function environment (one for every function); deployed: read on demand.
    local_environment: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def processor_environment(self) -> dict[str, str]:
        """The processor function's environment: what `momentsync backfill` needs to reach the
        tenant's accounting system exactly as the processor does (API hosts, app secret, leases)."""
        if self.is_local:
            return dict(self.local_environment)
        function = self.client("cloudformation").describe_stack_resource(
            StackName=self.stack_name, LogicalResourceId="ProcessorFunction"
        )["StackResourceDetail"]["PhysicalResourceId"]
        configuration = self.client("lambda").get_function_configuration(FunctionName=function)
        variables: dict[str, str] = configuration.get("Environment", {}).get("Variables", {})
        return variables

    @property
    def is_local(self) -> bool:
        """The local stack (moto): no STS caller, no CloudWatch metrics."""
        return self.endpoint_url is not None

    def client(self, service: str) -> Any:
        import boto3  # ~0.3 s: only when a command talks to AWS, never for --help

        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url)

    def table(self, name: str) -> Any:
        import boto3

        return boto3.resource("dynamodb", region_name=self.region, endpoint_url=self.endpoint_url).Table(name)


def local_target(state_file: Path | None = None) -> StackTarget:
    state_file = state_file or local_state_file()
    if not state_file.exists():
        raise StackNotFound(
            f"no local stack: {state_file} not found",
            "start one with `make run` in the repository, or set MOMENTSYNC_LOCAL_STATE to its state file",
        )
    try:
        state = json.loads(state_file.read_text())
        env = state["environment"]
        endpoint_url = state["aws_endpoint_url"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StackNotFound(
            f"{state_file} is not a readable local stack state ({type(exc).__name__})",
            "start the stack with `make run` (it rewrites the file) or delete the file",
        ) from None
    if not _listening(endpoint_url):
        # The file outlives the stack (a killed `make run`): say so instead of a connection traceback.
        raise StackNotFound(
            f"the local stack of {state_file} is not running (nothing answers at {endpoint_url})",
            "start it with `make run`",
        )
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    return StackTarget(
        region=state["region"],
        endpoint_url=endpoint_url,
        webhook_base_url=state["webhook_base_url"],
        tenants_table=env["TENANTS_TABLE"],
        sync_state_table=env["SYNC_STATE_TABLE"],
        transfer_log_table=env["TRANSFER_LOG_TABLE"],
        parked_events_table=env["PARKED_EVENTS_TABLE"],
        event_queue_url=env["EVENT_QUEUE_URL"],
        dead_letter_queue_url=env["DEAD_LETTER_QUEUE_URL"],
        credentials_secret_prefix=env["CREDENTIALS_SECRET_PREFIX"],
        audit_table=state.get("resources", {}).get("AuditTable", ""),
        notifications_table=env.get("NOTIFICATIONS_TABLE", ""),
        operator_topic_arn=env.get("OPERATOR_TOPIC_ARN", ""),
        moment_api_base_url=env.get("MOMENT_API_BASE_URL", DEFAULT_MOMENT_API_BASE_URL),
        local_environment=dict(env),
    )


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=1):
            return True
    except OSError:
        return False


def deployed_target(stack_name: str, region: str, expected_stage: str | None = None) -> StackTarget:
    import boto3
    from botocore.exceptions import ClientError

    cloudformation = boto3.client("cloudformation", region_name=region)
    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ValidationError":
            raise  # access denied, expired token: explained by the CLI's error handler
        raise StackNotFound(
            f"stack {stack_name} not found in {region}",
            "check the name and region (`aws cloudformation list-stacks`), or deploy it first",
        ) from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    deployed_stage = parameters.get("Stage")
    if expected_stage and deployed_stage and deployed_stage != expected_stage:
        # A stack deployed with overrides that replaced samconfig's: its data lives under another stage.
        raise StackNotFound(
            f"stack {stack_name} in {region} runs Stage={deployed_stage}, but samconfig.toml says "
            f"Stage={expected_stage}: its tenant secrets are under momentsync/{deployed_stage}/...",
            "redeploy with the config env's full overrides (see docs/deploying.md), or pass --stack and "
            "--region to operate the stack as it is",
        )
    missing = [key for key in _REQUIRED_OUTPUTS if key not in outputs]
    if missing:
        raise StackNotFound(
            f"stack {stack_name} in {region} lacks the output(s) {', '.join(missing)}",
            "is it a momentsync stack? deploy the current template (`sam build && sam deploy`)",
        )
    return StackTarget(
        region=region,
        webhook_base_url=outputs["WebhookBaseUrl"],
        tenants_table=outputs["TenantsTableName"],
        sync_state_table=outputs["SyncStateTableName"],
        transfer_log_table=outputs["TransferLogTableName"],
        parked_events_table=outputs["ParkedEventsTableName"],
        event_queue_url=outputs["EventQueueUrl"],
        dead_letter_queue_url=outputs["DeadLetterQueueUrl"],
        credentials_secret_prefix=outputs["CredentialsSecretPrefix"],
        audit_table=outputs.get("AuditTableName", ""),
        notifications_table=outputs.get("NotificationsTableName", ""),
        operator_topic_arn=outputs.get("AlarmTopicArn", ""),
        moment_api_base_url=parameters.get("MomentApiBaseUrl", DEFAULT_MOMENT_API_BASE_URL),
        stack_name=stack_name,
    )


_REQUIRED_OUTPUTS = (
    "WebhookBaseUrl",
    "TenantsTableName",
    "SyncStateTableName",
    "TransferLogTableName",
    "ParkedEventsTableName",
    "EventQueueUrl",
    "DeadLetterQueueUrl",
    "CredentialsSecretPrefix",
)


def samconfig_stack(config_env: str, samconfig: Path = Path("samconfig.toml")) -> tuple[str, str]:
    """(stack name, region) of a samconfig.toml environment, as `sam deploy --config-env` uses them."""
    if not samconfig.exists():
        raise StackNotFound(
            f"--config-env needs {samconfig} in the current directory, and there is none",
            "run from the momentsync repository, or name the stack: --stack NAME --region REGION",
        )
    try:
        config = tomllib.loads(samconfig.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise StackNotFound(f"{samconfig} is not valid TOML: {exc}") from exc
    try:
        params = config[config_env]["deploy"]["parameters"]
    except KeyError as exc:
        known = ", ".join(name for name in config if isinstance(config[name], dict)) or "none"
        raise StackNotFound(
            f"{samconfig} has no [{config_env}.deploy.parameters]", f"config envs there: {known}"
        ) from exc
    global_params = config[config_env].get("global", {}).get("parameters", {})
    stack, region = (
        params.get("stack_name") or global_params.get("stack_name"),
        params.get("region") or global_params.get("region"),
    )
    if not stack or not region:
        raise StackNotFound(f"[{config_env}] in {samconfig} names no stack_name and region")
    return stack, region


def samconfig_parameter_overrides(
    config_env: str, samconfig: Path = Path("samconfig.toml")
) -> dict[str, str]:
    """The ``parameter_overrides`` of a config env's deploy section, as a dict (string or list form)."""
    if not samconfig.exists():
        return {}
    config = tomllib.loads(samconfig.read_text())
    raw = config.get(config_env, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    items = shlex.split(raw) if isinstance(raw, str) else [str(item) for item in raw]
    return dict(item.split("=", 1) for item in items if "=" in item)


def resolve_target(
    *, local: bool, stack: str | None, region: str | None, config_env: str | None
) -> StackTarget:
    if local:
        return local_target()
    expected_stage = None
    if config_env:
        stack, region = samconfig_stack(config_env)
        expected_stage = samconfig_parameter_overrides(config_env).get("Stage")
    if not stack or not region:
        raise StackNotFound(
            "no stack given",
            "say which stack before the command: --local, --config-env NAME, or --stack NAME --region R",
        )
    return deployed_target(stack, region, expected_stage)
