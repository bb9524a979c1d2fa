"""`momentsync tenants list | pause | resume | disable | settings`: operator changes, each audited."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table
from rich.text import Text

from momentsync.cli.context import (
    EXIT_CONFLICT,
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    Context,
    console,
    context_of,
    fail,
    print_json,
    when,
)

if TYPE_CHECKING:
    from momentsync.aws.leases import DynamoLeaseLock
    from momentsync.operations.tenant_admin import TenantAdmin, VatRegistered
    from momentsync.tenants import Tenant

Result = TypeVar("Result")


def register(tenants_app: typer.Typer) -> None:
    tenants_app.command("list")(tenants_list)
    tenants_app.command("pause")(tenants_pause)
    tenants_app.command("resume")(tenants_resume)
    tenants_app.command("disable")(tenants_disable)
    tenants_app.command("settings")(tenants_settings)


def _admin(context: Context, *, with_queue: bool = False, with_credentials: bool = False) -> TenantAdmin:
    from momentsync.operations.tenant_admin import TenantAdmin

    return TenantAdmin(
        tenants=context.tenants(),
        audit=context.audit(),
        actor=context.actor(),
        parked=context.parked() if with_queue else None,
        queue=context.event_queue() if with_queue else None,
        credentials=context.credentials() if with_credentials else None,
        leases=_token_leases(context) if with_credentials else None,
    )


def _token_leases(context: Context) -> DynamoLeaseLock:
    """The auth table's leases: a secret written here waits for a refresh or a connect in flight."""
    from momentsync.aws.leases import DynamoLeaseLock
    from momentsync.cli.main import fiken_auth_resources  # main imports this module

    return DynamoLeaseLock(context.target.table(fiken_auth_resources(context)["AUTH_TABLE"]))


def _summary(tenant: Tenant) -> dict[str, Any]:
    from momentsync.operations.status import connection_state

    return {
        "tenant_id": tenant.tenant_id,
        "name": tenant.name,
        "target": tenant.target.value,
        "status": tenant.status.value,
        "connection": connection_state(tenant),
        "status_reason": tenant.status_reason,
        "updated_at": tenant.updated_at.isoformat(),
    }


def _show(context: Context, data: dict[str, Any], title: str) -> None:
    if context.as_json:
        print_json(data)
        return
    table = Table(show_header=False, title=title)
    for key, value in data.items():
        # Text, not markup: values with [brackets] are shown as they are.
        table.add_row(key, Text(json.dumps(value) if isinstance(value, dict | list) else str(value)))
    console.print(table)


def _run(action: Callable[[], Result]) -> Result:
    """Runs a tenant change, turning its errors into exit codes."""
    from momentsync.operations.tenant_admin import TenantChangeRefused
    from momentsync.tenants import TenantConflict, TenantNotFound

    try:
        return action()
    except TenantNotFound as exc:
        fail(f"tenant {exc} not found", EXIT_NOT_FOUND)
    except TenantChangeRefused as exc:
        fail(str(exc), EXIT_USAGE)
    except TenantConflict as exc:
        fail(str(exc), EXIT_CONFLICT)


def tenants_list(ctx: typer.Context) -> None:
    """Every tenant with its status and connection state."""
    from momentsync.operations.status import connection_state

    context = context_of(ctx)
    tenants = context.tenants().list()
    if context.as_json:
        print_json([_summary(t) for t in tenants])
        return
    table = Table(title="tenants")
    for column in ("tenant", "name", "target", "status", "connection", "e-mails", "updated"):
        table.add_column(column)
    for tenant in tenants:
        table.add_row(
            tenant.tenant_id,
            tenant.name,
            tenant.target.value,
            tenant.status.value,
            connection_state(tenant),
            str(len(tenant.notification_emails)),
            when(tenant.updated_at),
        )
    console.print(table)


def tenants_pause(
    ctx: typer.Context,
    tenant_id: str,
    reason: Annotated[str | None, typer.Option(help="Why (shown in status).")] = None,
) -> None:
    """Hold processing: webhooks are still accepted and their events parked until `resume`."""
    context = context_of(ctx)
    tenant = _run(lambda: _admin(context).pause(tenant_id, reason))
    _show(context, _summary(tenant), f"tenant {tenant_id} paused")


def tenants_resume(ctx: typer.Context, tenant_id: str) -> None:
    """Active again (also re-enables a disabled tenant); re-queues its parked events in arrival order."""
    context = context_of(ctx)
    tenant, resumed = _run(lambda: _admin(context, with_queue=True).resume(tenant_id))
    _show(context, {**_summary(tenant), "resumed_events": resumed}, f"tenant {tenant_id} resumed")


def tenants_disable(
    ctx: typer.Context,
    tenant_id: str,
    reason: Annotated[str | None, typer.Option(help="Why (shown in status).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Refuse the tenant's webhooks from now on (Moment gets 410). `resume` re-enables it."""
    context = context_of(ctx)
    if not yes and not typer.confirm(f"Refuse every webhook of {tenant_id} from now on?"):
        raise typer.Exit(EXIT_FAILED)
    tenant = _run(lambda: _admin(context).disable(tenant_id, reason))
    _show(context, _summary(tenant), f"tenant {tenant_id} disabled")


class InvoiceModeChoice(StrEnum):
    """momentsync.tenants.InvoiceMode's values (a test keeps them equal), without importing pydantic
    before --help answers."""

    INVOICE = "invoice"
    SALE = "sale"


class ForeignCurrencyChoice(StrEnum):
    """momentsync.tenants.ForeignCurrency's values (a test keeps them equal)."""

    TARGET_RATE = "target_rate"
    REFUSE = "refuse"


# --vat-registered's words, typed as SettingsChange takes them.
VAT_REGISTERED_WORDS: dict[str, VatRegistered] = {"yes": "yes", "no": "no", "ask": "ask"}


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or []:
        key, sep, mapped = value.partition("=")
        if not sep or not key.strip() or not mapped.strip():
            fail(f"{option} takes CODE=VALUE, not {value!r}", EXIT_USAGE)
        if key.strip() in pairs and pairs[key.strip()] != mapped.strip():
            fail(f"{option} names {key.strip()} twice with different values: give it once", EXIT_USAGE)
        pairs[key.strip()] = mapped.strip()
    return pairs


def tenants_settings(
    ctx: typer.Context,
    tenant_id: str,
    email: Annotated[
        list[str] | None, typer.Option(help="Replace the notification e-mails (repeatable).")
    ] = None,
    add_email: Annotated[list[str] | None, typer.Option(help="Add a notification e-mail.")] = None,
    remove_email: Annotated[list[str] | None, typer.Option(help="Remove a notification e-mail.")] = None,
    invoice_mode: Annotated[
        InvoiceModeChoice | None, typer.Option(help="invoice (Fiken numbers) or sale.")
    ] = None,
    vat_code: Annotated[
        list[str] | None, typer.Option(help="VAT code override CODE=TARGET_VAT_TYPE (repeatable).")
    ] = None,
    unset_vat_code: Annotated[list[str] | None, typer.Option(help="Drop a VAT code override.")] = None,
    account: Annotated[
        list[str] | None, typer.Option(help="Account override MOMENT=TARGET (repeatable).")
    ] = None,
    unset_account: Annotated[list[str] | None, typer.Option(help="Drop an account override.")] = None,
    bank_account: Annotated[
        str | None, typer.Option(help="Bank account number invoices are issued on.")
    ] = None,
    clear_bank_account: Annotated[bool, typer.Option(help="Forget the bank account number.")] = False,
    vat_registered: Annotated[str | None, typer.Option(help="yes, no, or ask (the target system).")] = None,
    foreign_currency: Annotated[
        ForeignCurrencyChoice | None,
        typer.Option(help="Where the target books NOK at its own rate: target_rate (book, flag) or refuse."),
    ] = None,
    moment_api_key_stdin: Annotated[
        bool, typer.Option(help="Set the Moment API key, read from standard input (never an argument).")
    ] = False,
    data_types: Annotated[
        str | None, typer.Option(help="What is transferred: comma-separated customer, project, invoice.")
    ] = None,
    cutover: Annotated[
        str | None, typer.Option(help="Invoices dated before this day (ISO) are never transferred.")
    ] = None,
    clear_cutover: Annotated[bool, typer.Option(help="Transfer invoices of any date.")] = False,
    customer_states: Annotated[
        str | None, typer.Option(help="Only customers in these Moment states, comma-separated (e.g. active).")
    ] = None,
    clear_customer_states: Annotated[bool, typer.Option(help="Customers in any state.")] = False,
    project_states: Annotated[
        str | None, typer.Option(help="Only projects in these Moment states, comma-separated.")
    ] = None,
    clear_project_states: Annotated[bool, typer.Option(help="Projects in any state.")] = False,
) -> None:
    """Show the tenant's settings, or change them (validated; every change is audited)."""
    from pydantic import ValidationError

    from momentsync.cli.failures import one_line
    from momentsync.operations.tenant_admin import SettingsChange, settings_view
    from momentsync.tenants import ForeignCurrency, InvoiceMode

    context = context_of(ctx)
    if vat_registered is not None and vat_registered not in VAT_REGISTERED_WORDS:
        fail("--vat-registered takes yes, no or ask", EXIT_USAGE)
    try:
        change = SettingsChange(
            notification_emails=email,
            add_emails=add_email or [],
            remove_emails=remove_email or [],
            invoice_mode=InvoiceMode(invoice_mode.value) if invoice_mode else None,
            vat_code_overrides=_pairs(vat_code, "--vat-code"),
            unset_vat_codes=unset_vat_code or [],
            account_overrides=_pairs(account, "--account"),
            unset_accounts=unset_account or [],
            bank_account_number=bank_account,
            clear_bank_account_number=clear_bank_account,
            vat_registered=None if vat_registered is None else VAT_REGISTERED_WORDS[vat_registered],
            foreign_currency=ForeignCurrency(foreign_currency.value) if foreign_currency else None,
            data_types=_words(data_types, singular=True),
            cutover_date=_day(cutover),
            clear_cutover_date=clear_cutover,
            customer_states=_words(customer_states),
            clear_customer_states=clear_customer_states,
            project_states=_words(project_states),
            clear_project_states=clear_project_states,
        )
    except ValidationError as exc:
        fail(one_line(exc).removeprefix("value: ").removeprefix("Value error, "), EXIT_USAGE)
    if change.is_empty and not moment_api_key_stdin:
        tenant = context.tenants().get(tenant_id)
        if tenant is None:
            fail(f"tenant {tenant_id} not found", EXIT_NOT_FOUND)
        _show(context, settings_view(tenant), f"settings of {tenant_id}")
        return
    api_key = sys.stdin.readline().strip() if moment_api_key_stdin else None
    if moment_api_key_stdin and not api_key:
        fail("the Moment API key on standard input is empty", EXIT_USAGE, "pipe the key in: ... < key.txt")
    admin = _admin(context, with_credentials=moment_api_key_stdin)
    result: dict[str, Any] = {"tenant_id": tenant_id}
    # Settings first: a refused change stores nothing at all, not even the key given with it.
    if not change.is_empty:
        tenant, changed = _run(lambda: admin.change_settings(tenant_id, change))
        result["changed"] = changed
        result["settings"] = settings_view(tenant)
    if api_key:
        _run(lambda: admin.store_moment_api_key(tenant_id, api_key))
        result["moment_api_key"] = "stored"
    _show(context, result, f"settings of {tenant_id} changed")


def _words(value: str | None, *, singular: bool = False) -> list[str] | None:
    if value is None:
        return None
    words = [w.strip() for w in value.split(",") if w.strip()]
    return [w[:-1] if singular and w.endswith("s") else w for w in words]


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--cutover takes a date such as 2026-01-01, not {value!r}", EXIT_USAGE)
