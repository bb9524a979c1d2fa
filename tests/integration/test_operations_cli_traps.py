"""The operator CLI's traps, as a new operator met them (issue 16), against the local stack: the only copy
of a webhook URL printed whole, errors as one readable line with a hint (never markup-mangled, never a
traceback, never an HTML page), exit codes as the README documents them, settings validated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.cli.main import app
from momentsync.webhook_secret import hash_webhook_secret

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(paused_stack, tmp_path, monkeypatch):
    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps(paused_stack.describe()))
    monkeypatch.setenv("MOMENTSYNC_LOCAL_STATE", str(state))
    runner = CliRunner()

    def run(*args: str, code: int = 0, stdin: str | None = None, local: bool = True):
        result = runner.invoke(app, ["--local", *args] if local else list(args), input=stdin)
        assert result.exit_code == code, (result.exit_code, result.output)
        assert "Traceback" not in result.output
        return result

    return run


def tenants_of(stack) -> DynamoTenantRepository:
    return DynamoTenantRepository(stack.aws.resource("dynamodb").Table(stack.physical("TenantsTable")))


def new_id() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def assert_real_webhook_url(stack, tenant_id: str, url: str) -> None:
    """The URL is whole: its last segment is the secret whose hash the tenant stores."""
    prefix = f"{stack.webhook_base_url.rstrip('/')}/webhooks/moment/{tenant_id}/"
    assert url.startswith(prefix)
    secret = url.removeprefix(prefix)
    assert hash_webhook_secret(tenant_id, secret) == tenants_of(stack).require(tenant_id).webhook_secret_hash


def test_add_and_rotate_print_the_webhook_url_whole_on_its_own_line_at_80_columns(paused_stack, cli):
    tenant_id = new_id()
    added = cli(
        "tenants",
        "add",
        tenant_id,
        "--name",
        "Acme AS",
        "--moment-company",
        "acme",
        "--moment-api-key-stdin",
        stdin="key\n",
    )
    [url] = [line for line in added.stdout.splitlines() if "/webhooks/moment/" in line]
    assert url == url.strip() and "…" not in url  # not a table cell: nothing cut, no border
    assert_real_webhook_url(paused_stack, tenant_id, url)

    rotated = json.loads(cli("--json", "tenants", "rotate-secret", tenant_id, "--yes").stdout)
    assert_real_webhook_url(paused_stack, tenant_id, rotated["webhook_url"])
    assert "webhook_secret_hash" not in rotated


def test_a_taken_tenant_id_is_refused_with_exit_2_and_a_hint_not_4(make_tenant, cli):
    tenant_id = make_tenant().tenant.tenant_id
    result = cli(
        "tenants",
        "add",
        tenant_id,
        "--name",
        "Again",
        "--moment-company",
        "acme",
        "--moment-api-key-stdin",
        stdin="\n",
        code=2,
    )
    assert f"tenant {tenant_id} already exists" in result.stderr
    assert "hint: choose another id" in result.stderr


def test_an_invalid_tenant_id_shows_the_whole_pattern_in_one_line(cli):
    result = cli(
        "tenants",
        "add",
        "Bad_Id",
        "--name",
        "X",
        "--moment-company",
        "x",
        "--moment-api-key-stdin",
        stdin="\n",
        code=2,
    )
    assert "^[a-z0-9][a-z0-9-]{1,62}$" in result.stderr  # Rich markup used to eat "[a-z0-9]"
    assert len(result.stderr.strip().splitlines()) == 1


def test_sparebank1_tenant_needs_its_bank_and_a_guid_company_key(paused_stack, cli):
    base = [
        "tenants",
        "add",
        new_id(),
        "--name",
        "Bank AS",
        "--moment-company",
        "bank",
        "--target",
        "sparebank1",
        "--moment-api-key-stdin",
    ]
    missing = cli(*base, stdin="\n", code=2)
    assert "needs --sparebank1-bank and --sparebank1-company-key" in missing.stderr
    assert "hint: banks:" in missing.stderr and "sb1ostlandet" in missing.stderr
    not_guid = cli(
        *base, "--sparebank1-bank", "sb1ostlandet", "--sparebank1-company-key", "abc", stdin="\n", code=2
    )
    assert "is not a GUID" in not_guid.stderr
    unknown = cli(
        *base,
        "--sparebank1-bank",
        "nobank",
        "--sparebank1-company-key",
        str(uuid.uuid4()),
        stdin="\n",
        code=2,
    )
    assert "unknown SpareBank 1 bank 'nobank'" in unknown.stderr
    fiken_with_bank = cli(
        "tenants",
        "add",
        new_id(),
        "--name",
        "F",
        "--moment-company",
        "f",
        "--sparebank1-bank",
        "sb1",
        "--moment-api-key-stdin",
        stdin="\n",
        code=2,
    )
    assert "are for --target sparebank1" in fiken_with_bank.stderr

    tenant_id = new_id()
    cli(
        "tenants",
        "add",
        tenant_id,
        *base[3:],
        "--sparebank1-bank",
        "sb1ostlandet",
        "--sparebank1-company-key",
        str(uuid.uuid4()),
        stdin="\n",
    )
    assert tenants_of(paused_stack).require(tenant_id).sparebank1_bank == "sb1ostlandet"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--vat-code", "3=BOGUS"], "'BOGUS' is not a Fiken sales vatType"),
        (["--vat-code", "9903=BOGUS"], "'BOGUS' is not a Fiken sales vatType"),  # the issue's own case
        (["--vat-code", "3a=HIGH"], "VAT code '3a' is not a VAT code"),
        (["--account", "3000=abc"], "account 'abc' is not an account number"),
        (["--account", "30=3001"], "account '30' is not an account number"),
        (["--bank-account", "1234.56.78904"], "fails"),  # 11 digits, wrong MOD11 check digit
        (["--unset-vat-code", "3", "--vat-code", "3=HIGH"], "--vat-code and --unset-vat-code both name 3"),
        (["--account", "3000=3001", "--unset-account", "3000"], "both name 3000"),
        (["--vat-code", "3=HIGH", "--vat-code", "3=LOW"], "names 3 twice"),
        (["--bank-account", "12345678903", "--clear-bank-account"], "give one of them"),
    ],
)
def test_settings_refuse_what_the_target_would_refuse_and_change_nothing(
    paused_stack, make_tenant, cli, options, says
):
    tenant = make_tenant().tenant
    result = cli("tenants", "settings", tenant.tenant_id, *options, code=2)
    if says == "fails":
        assert "is not a Norwegian account number" in result.stderr and "MOD11" in result.stderr
    else:
        assert says in result.stderr
    assert "validation error" not in result.stderr.lower()  # no raw pydantic dump
    assert tenants_of(paused_stack).require(tenant.tenant_id).mapping == tenant.mapping


def test_settings_accept_valid_values_for_each_target(paused_stack, make_tenant, cli):
    fiken = make_tenant().tenant.tenant_id
    cli("tenants", "settings", fiken, "--vat-code", "3=HIGH", "--bank-account", "1234.56.78903")
    sparebank1 = make_tenant(
        target="sparebank1",
        fiken_company_slug=None,
        sparebank1_bank="sb1",
        sparebank1_company_key=str(uuid.uuid4()),
    ).tenant.tenant_id
    cli("tenants", "settings", sparebank1, "--vat-code", "3=31")  # SpareBank 1 takes a VAT code
    assert tenants_of(paused_stack).require(sparebank1).mapping.vat_code_overrides == {"3": "31"}
    cli("tenants", "settings", sparebank1, "--vat-code", "3=HIGH", code=2)


def test_replay_all_on_the_local_stack_says_why_not_in_one_line(cli):
    result = cli("dlq", "replay", "--all", "--execute", "--yes", code=2)
    assert "does not offer" in result.stderr and "StartMessageMoveTask" in result.stderr
    assert "<" not in result.output  # no HTML error page
    assert "hint: replay message by message" in result.stderr


def test_an_unknown_config_env_is_named_whole_with_the_known_ones(cli, monkeypatch):
    monkeypatch.chdir(REPO)
    result = cli("--config-env", "nope", "status", local=False, code=2)
    assert "samconfig.toml has no [nope.deploy.parameters]" in result.stderr
    assert "norway-prod" in result.stderr


def run_console_script(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-c", "from momentsync.cli.main import main; main()", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def clean_env(tmp_path: Path) -> dict[str, str]:
    """No AWS credentials of any kind, and nothing that points at a local stack."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "MOMENTSYNC_")) and key != "PYTHONPATH"
    }
    return {
        **env,
        "PYTHONPATH": str(REPO / "shared"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def test_without_aws_credentials_one_line_and_a_hint_not_a_traceback(tmp_path):
    result = run_console_script(
        "--stack",
        "momentsync-prod",
        "--region",
        "eu-north-1",
        "status",
        cwd=tmp_path,
        env=clean_env(tmp_path),
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        "error: no AWS credentials found",
        "hint: set AWS_PROFILE (or run `aws sso login`) for a deployed stack, or use --local for `make run`",
    ]
    assert result.stdout == ""


def test_outside_the_repository_config_env_and_local_say_what_to_do(tmp_path):
    env = clean_env(tmp_path)
    by_config = run_console_script("--config-env", "norway-prod", "status", cwd=tmp_path, env=env)
    assert by_config.returncode == 2
    assert "needs samconfig.toml in the current directory" in by_config.stderr
    assert "hint: run from the momentsync repository" in by_config.stderr
    local = run_console_script("--local", "tenants", "list", cwd=tmp_path, env=env)
    assert local.returncode == 2
    assert "no local stack: .local-stack.json not found" in local.stderr and "Traceback" not in local.stderr
