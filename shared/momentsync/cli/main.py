"""`momentsync`: the operator CLI.

Exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 conflict (changed concurrently / exists).
Tables for people, ``--json`` for scripts. Secrets are shown only where the operator must copy them
(the webhook URL, once, when it is created or rotated).
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from momentsync.cli import (
    audit_commands,
    backfill_commands,
    deep_check_commands,
    dlq_commands,
    log_commands,
    probe_commands,
    resync_commands,
    status_commands,
    tenant_commands,
)
from momentsync.cli.context import (
    EXIT_CONFLICT,
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    Context,
    console,
    errors,
    fail,
    print_json,
    print_whole,
    record_action,
    say_error,
)
from momentsync.cli.failures import explain_failure, one_line
from momentsync.cli.target import samconfig_stack

if TYPE_CHECKING:  # imported where used: `momentsync --help` must not load boto3, httpx or pydantic
    from momentsync.tenants import Tenant


class TargetChoice(StrEnum):
    """momentsync.tenants.TargetSystem's values (a test keeps them equal): importing that module
    would load pydantic and boto3 before --help can answer."""

    FIKEN = "fiken"
    SPAREBANK1 = "sparebank1"


app = typer.Typer(
    help="Operate momentsync: tenants, status, transfer log, dead letters.",
    no_args_is_help=True,
    # main() turns every failure into one line and a hint; never a 200-line traceback.
    pretty_exceptions_enable=False,
)
tenants_app = typer.Typer(help="Add, inspect and change tenants.", no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")


@app.callback()
def main_options(
    ctx: typer.Context,
    local: Annotated[bool, typer.Option("--local", help="Use the local stack of `make run`.")] = False,
    stack: Annotated[str | None, typer.Option(help="Deployed stack name.")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region of the stack.")] = None,
    config_env: Annotated[
        str | None, typer.Option(help="samconfig.toml environment to read stack/region from.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    ctx.obj = Context(
        target_options={"local": local, "stack": stack, "region": region, "config_env": config_env},
        as_json=as_json,
    )


def checked_organization_number(value: str) -> str:
    """The operator's organisation number without spaces, or exit 2 saying why it is none (MOD11)."""
    from momentsync.tenants import organization_number_problem

    number = value.replace(" ", "").strip()
    problem = organization_number_problem(number)
    if problem:
        fail(f"the organisation number is wrong: {problem}", EXIT_USAGE)
    return number


def tenant_summary(tenant: Tenant) -> dict[str, Any]:
    data = tenant.model_dump(mode="json", exclude={"webhook_secret_hash"})
    return data


def show_tenant(
    context: Context,
    tenant: Tenant,
    secret_url: str | None = None,
    outcome: dict[str, str] | None = None,
) -> None:
    """The tenant as a table (never its secrets); ``secret_url`` (the only copy of a webhook URL) is
    printed whole on its own line below it, and as ``webhook_url`` in --json; ``outcome`` adds rows
    saying what the command did (e.g. ``fiken_access``)."""
    data = {**tenant_summary(tenant), **(outcome or {})}
    if context.as_json:
        print_json({**data, **({"webhook_url": secret_url} if secret_url else {})})
        return
    table = Table(show_header=False, title=f"tenant {tenant.tenant_id}")
    for key, value in data.items():
        # Text, not markup: a value with [brackets] is shown as it is.
        table.add_row(key, Text(json.dumps(value) if isinstance(value, dict | list) else str(value)))
    console.print(table)
    if secret_url:
        errors.print("webhook URL (shown only now; paste it into Moment):")
        print_whole(secret_url)


@tenants_app.command("add")
def tenants_add(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument(help="Short id: lowercase letters, digits, '-'.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    moment_company: Annotated[str, typer.Option(help="Moment company code (from Moment's URL).")],
    target: Annotated[TargetChoice, typer.Option(help="Accounting system.")] = TargetChoice.FIKEN,
    fiken_company: Annotated[
        str | None, typer.Option(help="Fiken company slug (or pick at connect).")
    ] = None,
    organization_number: Annotated[
        str | None, typer.Option(help="Organisation number (9 digits): connect links only link its company.")
    ] = None,
    sparebank1_bank: Annotated[
        str | None, typer.Option(help="SpareBank 1 bank id (required with --target sparebank1).")
    ] = None,
    sparebank1_company_key: Annotated[
        str | None,
        typer.Option(help="SpareBank 1 Regnskap company key, a GUID (required with --target sparebank1)."),
    ] = None,
    email: Annotated[list[str] | None, typer.Option(help="Notification e-mail (repeatable).")] = None,
    moment_api_key_stdin: Annotated[
        bool, typer.Option(help="Read the Moment API key from standard input instead of a prompt.")
    ] = False,
) -> None:
    """Add a tenant and print its webhook URL (shown once: paste it into Moment)."""
    from momentsync.onboarding import add_tenant
    from momentsync.tenants import TargetSystem, TenantConflict

    context: Context = ctx.obj
    target_system = TargetSystem(target.value)
    # A bank given as a URL is accepted on the local stack only (#20); refused now rather than as a
    # dead letter per event.
    check_target_options(
        target_system,
        fiken_company,
        sparebank1_bank,
        sparebank1_company_key,
        custom_urls=bool(context.target_options["local"]),
    )
    if moment_api_key_stdin:
        api_key = sys.stdin.readline().strip()
    else:
        api_key = typer.prompt(
            "Moment API key (input hidden; empty to set later)", default="", hide_input=True
        )
    try:
        tenant, url = add_tenant(
            tenants=context.tenants(),
            credentials=context.credentials(),
            webhook_base_url=context.target.webhook_base_url,
            tenant_id=tenant_id,
            name=name,
            target=target_system,
            moment_company_code=moment_company,
            moment_api_key=api_key or None,
            fiken_company_slug=fiken_company,
            organization_number=checked_organization_number(organization_number)
            if organization_number
            else None,
            sparebank1_bank=sparebank1_bank,
            sparebank1_company_key=sparebank1_company_key,
            notification_emails=email or [],
        )
    except TenantConflict as exc:
        # Not a concurrent change (exit 4): the id is taken, a refused change (exit 2).
        fail(str(exc), EXIT_USAGE, f"choose another id, or see it with `momentsync tenants show {tenant_id}`")
    except ValueError as exc:
        fail(f"invalid tenant: {one_line(exc)}", EXIT_USAGE)
    record_action(context, "tenant.add", tenant_id, {"target": target.value, "moment_api_key": bool(api_key)})
    show_tenant(context, tenant, url.url)
    if not context.as_json:
        errors.print(
            "Configure it in Moment for the customer, project and invoice webhooks "
            "(Setup > Settings > Integrations)."
        )
        errors.print(backfill_offer(tenant_id, target_system))


def check_target_options(
    target: Any,
    fiken_company: str | None,
    bank: str | None,
    company_key: str | None,
    *,
    custom_urls: bool = False,
) -> None:
    """A SpareBank 1 tenant cannot work without its bank and company key: refused here, not at its
    first invoice; options of the other target are refused rather than silently stored."""
    import uuid

    from momentsync.connectors.sparebank1.hosts import BANKS, resolve_bank
    from momentsync.errors import SyncError
    from momentsync.tenants import TargetSystem

    if target is TargetSystem.SPAREBANK1:
        if fiken_company:
            fail("--fiken-company is for Fiken tenants", EXIT_USAGE, "drop it, or use --target fiken")
        if not bank or not company_key:
            fail(
                "--target sparebank1 needs --sparebank1-bank and --sparebank1-company-key",
                EXIT_USAGE,
                f"banks: {', '.join(sorted(BANKS))} (or the bank's https base URL); the company key is "
                "the GUID under ? > Systeminformasjon in SpareBank 1 Regnskap",
            )
        try:
            resolve_bank(bank, custom_urls=custom_urls)
        except SyncError as exc:
            fail(exc.reason, EXIT_USAGE)
        try:
            uuid.UUID(company_key)
        except ValueError:
            fail(
                f"--sparebank1-company-key {company_key!r} is not a GUID",
                EXIT_USAGE,
                "copy it from ? > Systeminformasjon in SpareBank 1 Regnskap",
            )
    elif bank or company_key:
        fail(
            "--sparebank1-bank and --sparebank1-company-key are for --target sparebank1",
            EXIT_USAGE,
            "add --target sparebank1, or drop them",
        )


def backfill_offer(tenant_id: str, target: Any) -> str:
    """Webhooks only bring what changes from now on: the records before them need a backfill (Fiken and
    SpareBank 1 alike: both adopt what the books hold)."""
    return (
        f"Once connected, bring in the records from before the webhooks: `momentsync backfill {tenant_id} "
        "--dry-run` shows what the books already hold (adopted, never created twice), then run it "
        "without --dry-run."
    )


@tenants_app.command("show")
def tenants_show(ctx: typer.Context, tenant_id: str) -> None:
    """Show a tenant (never its secrets)."""
    context: Context = ctx.obj
    tenant = context.tenants().get(tenant_id)
    if tenant is None:
        fail(f"tenant {tenant_id} not found", EXIT_NOT_FOUND)
    show_tenant(context, tenant)


@tenants_app.command("rotate-secret")
def tenants_rotate_secret(
    ctx: typer.Context,
    tenant_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Replace the webhook secret; the old URL stops working at once."""
    from momentsync.onboarding import rotate_webhook_secret
    from momentsync.tenants import TenantConflict, TenantNotFound

    context: Context = ctx.obj
    if not yes and not typer.confirm(f"The current webhook URL of {tenant_id} stops working now. Continue?"):
        raise typer.Exit(EXIT_FAILED)
    try:
        tenant, url = rotate_webhook_secret(
            tenants=context.tenants(), webhook_base_url=context.target.webhook_base_url, tenant_id=tenant_id
        )
    except TenantNotFound:
        fail(f"tenant {tenant_id} not found", EXIT_NOT_FOUND)
    except TenantConflict as exc:
        fail(str(exc), EXIT_CONFLICT)
    record_action(context, "tenant.webhook_secret", tenant_id, {"rotated": True})
    show_tenant(context, tenant, url.url)


def fiken_auth_resources(context: Context) -> dict[str, str]:
    """The auth table, app secret and OAuth host of the target stack (not part of StackTarget)."""
    options = context.target_options
    target = context.target  # resolves (and validates) the stack first
    if options["local"]:
        env = target.local_environment
        return {key: env[key] for key in ("AUTH_TABLE", "FIKEN_APP_SECRET_ID", "FIKEN_OAUTH_BASE_URL")}
    stack_name = options["stack"]
    if options["config_env"]:
        stack_name, _region = samconfig_stack(options["config_env"])
    described = target.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described.get("Parameters", [])}
    return {
        "AUTH_TABLE": outputs["AuthTableName"],
        "FIKEN_APP_SECRET_ID": outputs["FikenAppSecretArn"],
        "FIKEN_OAUTH_BASE_URL": parameters.get("FikenOAuthBaseUrl", "https://fiken.no"),
    }


@tenants_app.command("connect-url")
def tenants_connect_url(
    ctx: typer.Context,
    tenant_id: str,
    valid_hours: Annotated[
        int, typer.Option(min=1, max=72, help="Hours the link stays valid (it works once).")
    ] = 24,
    organization_number: Annotated[
        str | None,
        typer.Option(help="The tenant's organisation number (9 digits), stored on the tenant first."),
    ] = None,
    allow_company: Annotated[
        str | None,
        typer.Option(
            help="Fiken company slug you confirm may be linked although its organisation number "
            "is not the tenant's (this link only)."
        ),
    ] = None,
) -> None:
    """Print a one-time link that connects the tenant to Fiken (send it to the customer)."""
    from momentsync.aws.one_time_tokens import DynamoOneTimeTokens
    from momentsync.connect.links import create_connect_link
    from momentsync.tenants import TargetSystem, TenantConflict

    context: Context = ctx.obj
    tenants = context.tenants()
    tenant = tenants.get(tenant_id)
    if tenant is None:
        fail(f"tenant {tenant_id} not found", EXIT_NOT_FOUND)
    if tenant.target is not TargetSystem.FIKEN:
        fail(f"tenant {tenant_id} does not transfer to Fiken", EXIT_USAGE)
    if organization_number is not None:
        organization_number = checked_organization_number(organization_number)
        try:
            tenant.organization_number = organization_number
            tenant = tenants.save(tenant)
        except ValueError:
            fail("the organisation number must be 9 digits (e.g. 912345670)", EXIT_USAGE)
        except TenantConflict as exc:
            fail(str(exc), EXIT_CONFLICT)
        record_action(context, "tenant.organization_number", tenant_id, {"set": True})
    if not tenant.organization_number and not allow_company:
        fail(
            f"tenant {tenant_id} has no organisation number, so no Fiken company could be linked: pass "
            "--organization-number NNNNNNNNN (the company's), or --allow-company SLUG to confirm one company",
            EXIT_USAGE,
        )
    resources = fiken_auth_resources(context)
    link = create_connect_link(
        DynamoOneTimeTokens(context.target.table(resources["AUTH_TABLE"])),
        base_url=context.target.webhook_base_url,
        tenant_id=tenant_id,
        ttl=timedelta(hours=valid_hours),
        allow_company=allow_company,
    )
    if allow_company:
        record_action(context, "tenant.connect_exception", tenant_id, {"allow_company": allow_company})
    if context.as_json:
        print_json({"tenant_id": tenant_id, "url": link.url, "expires_at": link.expires_at.isoformat()})
        return
    console.print(link.url, soft_wrap=True)
    errors.print(
        f"Works once, until {link.expires_at:%Y-%m-%d %H:%M} UTC. Only a Fiken company with organisation "
        f"number {tenant.organization_number or '-'}"
        f"{f' or the company {allow_company}' if allow_company else ''} can be linked through it: send "
        "it only to someone with access to that Fiken company."
    )
    errors.print(backfill_offer(tenant_id, TargetSystem.FIKEN))


@tenants_app.command("page-url")
def tenants_page_url(
    ctx: typer.Context,
    tenant_id: str,
    valid_hours: Annotated[int, typer.Option(min=1, max=24 * 14, help="Hours the link stays valid.")] = 72,
) -> None:
    """Print a one-time link to the tenant's own page (connection, transfers, "send again")."""
    from momentsync.aws.one_time_tokens import DynamoOneTimeTokens
    from momentsync.selfservice.service import create_page_link

    context: Context = ctx.obj
    if context.tenants().get(tenant_id) is None:
        fail(f"tenant {tenant_id} not found", EXIT_NOT_FOUND)
    resources = fiken_auth_resources(context)
    link = create_page_link(
        DynamoOneTimeTokens(context.target.table(resources["AUTH_TABLE"])),
        base_url=context.target.webhook_base_url,
        tenant_id=tenant_id,
        ttl=timedelta(hours=valid_hours),
    )
    record_action(context, "tenant.page_link", tenant_id, {"valid_hours": valid_hours})
    if context.as_json:
        print_json({"tenant_id": tenant_id, "url": link.url, "expires_at": link.expires_at.isoformat()})
        return
    print_whole(link.url)
    errors.print(
        f"Works once, until {link.expires_at:%Y-%m-%d %H:%M} UTC; the page then keeps the tenant signed in "
        "for half an hour. Send it only to the tenant's own people."
    )


@tenants_app.command("disconnect")
def tenants_disconnect(
    ctx: typer.Context,
    tenant_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Revoke momentsync's access in Fiken, delete the tokens and disable the tenant."""
    from momentsync.aws.app_secrets import FikenAppSecret
    from momentsync.aws.leases import DynamoLeaseLock
    from momentsync.connect.flow import disconnect_tenant
    from momentsync.connectors.fiken.oauth import FikenOAuthClient
    from momentsync.errors import SyncError
    from momentsync.tenants import TenantConflict, TenantNotFound

    context: Context = ctx.obj
    if not yes and not typer.confirm(
        f"Revoke Fiken access of {tenant_id} and disable it (webhooks are refused from now on)?"
    ):
        raise typer.Exit(EXIT_FAILED)
    resources = fiken_auth_resources(context)
    secretsmanager = context.target.client("secretsmanager")
    try:
        result = disconnect_tenant(
            tenant_id=tenant_id,
            tenants=context.tenants(),
            credentials=context.credentials(),
            oauth=FikenOAuthClient(
                resources["FIKEN_OAUTH_BASE_URL"],
                FikenAppSecret(secretsmanager, resources["FIKEN_APP_SECRET_ID"]),
            ),
            leases=DynamoLeaseLock(context.target.table(resources["AUTH_TABLE"]), owner_prefix="cli"),
        )
    except TenantNotFound:
        fail(f"tenant {tenant_id} not found", EXIT_NOT_FOUND)
    except TenantConflict as exc:
        fail(str(exc), EXIT_CONFLICT)
    except SyncError as exc:
        fail(f"could not disconnect: {exc.reason}")
    revoked = "revoked at Fiken" if result.revoked else "Fiken had no live grant to revoke"
    record_action(context, "tenant.disconnect", tenant_id, {"revoked": result.revoked})
    show_tenant(context, result.tenant, outcome={"fiken_access": revoked})


def sparebank1_secret_id(context: Context) -> str:
    """The SpareBank 1 app secret of the target stack (local state file or stack output)."""
    options = context.target_options
    target = context.target
    if options["local"]:
        return target.local_environment["SPAREBANK1_APP_SECRET_ID"]
    stack_name = options["stack"]
    if options["config_env"]:
        stack_name, _region = samconfig_stack(options["config_env"])
    described = target.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs: dict[str, str] = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    return outputs["SpareBank1AppSecretArn"]


@tenants_app.command("migrate-secrets")
def tenants_migrate_secrets(
    ctx: typer.Context,
    from_prefix: Annotated[
        str, typer.Option(help="The old, stage-named prefix, e.g. momentsync/prod/tenants.")
    ],
    delete_old: Annotated[bool, typer.Option(help="Delete each old secret once copied.")] = False,
) -> None:
    """Copy every tenant's credentials from the old stage-named secrets to this stack's (docs/security.md)."""
    from momentsync.aws.credentials import SecretsManagerCredentialsStore
    from momentsync.aws.leases import DynamoLeaseLock
    from momentsync.operations.secret_migration import Migration, migrate_tenant_secrets

    context: Context = ctx.obj
    secretsmanager = context.target.client("secretsmanager")
    try:
        results = migrate_tenant_secrets(
            tenants=context.tenants(),
            old=SecretsManagerCredentialsStore(secretsmanager, from_prefix),
            new=context.credentials(),
            # The token lease every writer of a tenant's secret takes (refresh, connect, settings).
            leases=DynamoLeaseLock(
                context.target.table(fiken_auth_resources(context)["AUTH_TABLE"]), owner_prefix="cli"
            ),
            delete_old=delete_old,
        )
    except ValueError as exc:
        fail(f"{exc}: give the old prefix, e.g. --from-prefix momentsync/prod/tenants", EXIT_USAGE)
    for result in results:
        record_action(context, "tenant.secret_migration", result.tenant_id, {"result": result.result.value})
    rows = [
        {"tenant_id": r.tenant_id, "result": r.result.value, "old_deleted": r.old_deleted} for r in results
    ]
    if context.as_json:
        console.print_json(json.dumps(rows))
    else:
        for row in rows:
            kept = (
                " (old KEPT: it holds values the live secret does not; compare them)"
                if delete_old and row["result"] not in ("nothing_to_copy", "busy")
                else ""
            )
            console.print(
                f"{row['tenant_id']}: {row['result']}{' (old deleted)' if row['old_deleted'] else kept}"
            )
    busy = [r.tenant_id for r in results if r.result is Migration.BUSY]
    if busy:
        fail(
            f"{len(busy)} secret(s) not migrated, held by a token refresh or connect: {', '.join(busy)}",
            EXIT_FAILED,
            hint="run the same command again: tenants already migrated are left as they are",
        )


@tenants_app.command("verify")
def tenants_verify(ctx: typer.Context, tenant_id: str) -> None:
    """Check that momentsync reaches the tenant's SpareBank 1 company (app token, activation, company key)."""
    from momentsync.errors import SyncError, TenantLevelError
    from momentsync.tenants import TargetSystem
    from momentsync.wiring.tenant_sessions import verify_tenant

    context: Context = ctx.obj
    tenant = context.tenants().get(tenant_id)
    if tenant is None:
        fail(f"tenant {tenant_id} not found", EXIT_NOT_FOUND)
    if tenant.target is not TargetSystem.SPAREBANK1:
        fail(f"tenant {tenant_id} does not transfer to SpareBank 1 Regnskap", EXIT_USAGE)
    secrets = context.target.client("secretsmanager")
    try:
        access = verify_tenant(
            # A bank given as a URL is for the local stack only, as in its processor (hosts.py).
            secrets,
            sparebank1_secret_id(context),
            tenant,
            custom_bank_urls=bool(context.target_options["local"]),
        )
    except TenantLevelError as exc:
        fail(f"{exc.reason}. {exc.remedy or ''}".strip())
    except SyncError as exc:
        fail(f"could not verify: {exc.reason}")
    data = {
        "tenant_id": tenant_id,
        "company_key": access.company_key,
        "company_name": access.company_name,
        "api": access.base_url,
        "identity": access.identity_url,
        "verified": True,
    }
    if context.as_json:
        print_json(data)
        return
    console.print(
        Text.assemble(
            ("ok", "green"),
            f" {tenant_id} reaches SpareBank 1 company {access.company_name!r} "
            f"({access.company_key}) at {access.base_url}",
        )
    )


# Operations (momentsync.operations): one line per command module.
status_commands.register(app)
log_commands.register(app)
dlq_commands.register(app)
resync_commands.register(app)
backfill_commands.register(app)
deep_check_commands.register(app)
audit_commands.register(app)
tenant_commands.register(tenants_app)
probe_commands.register(tenants_app)


def main() -> None:
    """The console script: every failure is one line plus a hint and an exit code, never a traceback
    (``MOMENTSYNC_DEBUG=1`` shows it)."""
    try:
        app()  # usage errors, Exit and Abort are handled (and exit) inside, as click does
    except Exception as exc:
        import os

        if os.environ.get("MOMENTSYNC_DEBUG"):
            raise
        failure = explain_failure(exc)
        say_error(failure.message, failure.hint)
        sys.exit(failure.exit_code)


if __name__ == "__main__":
    main()
