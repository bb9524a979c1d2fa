"""`momentsync backfill TENANT [--entities ...] [--since DATE] [--dry-run]`: import a tenant's existing
records, adopting what its accounting system already holds (see momentsync.operations.backfill)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from momentsync.cli.context import (
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    Context,
    console,
    context_of,
    errors,
    fail,
    print_json,
    record_action,
)

# = momentsync.operations.backfill.DEFAULT_MAX_PER_RUN (not imported: --help stays light; a test ties them)
DEFAULT_MAX_PER_RUN = 200

if TYPE_CHECKING:  # boto3, pydantic and the connectors load when the command runs, never for --help
    from momentsync.sync.session import TenantSession
    from momentsync.tenants import Tenant


def register(app: typer.Typer) -> None:
    app.command("backfill")(backfill)


def open_session(context: Context, tenant: Tenant) -> TenantSession:
    """The tenant's Moment and accounting clients, built from the processor's own settings."""
    import boto3

    from momentsync.settings import ProcessorSettings
    from momentsync.wiring.tenant_sessions import TenantSessions

    env = context.target.processor_environment()
    environment = {key.lower(): value for key, value in env.items()}
    settings = ProcessorSettings(**environment)  # type: ignore[arg-type]  # strings, converted as env vars are
    target = context.target
    sessions = TenantSessions(
        settings,
        secretsmanager=target.client("secretsmanager"),
        dynamodb=boto3.resource("dynamodb", region_name=target.region, endpoint_url=target.endpoint_url),
        tenants=context.tenants(),
        sync_state=context.sync_state(),
    )
    return sessions.open(tenant)


def _logs_to_stderr() -> Callable[[], None]:
    """The processor's code logs as in Lambda, on stdout (a retry after a 429, say); here stdout is the
    command's output (--json is parsed by scripts), so its log lines go to stderr until the command
    ends. Returns what puts them back."""
    import sys

    from momentsync.observability import logger

    swapped = [(h, h.setStream(sys.stderr)) for h in logger.handlers if isinstance(h, logging.StreamHandler)]

    def put_back() -> None:
        for handler, previous in swapped:
            handler.setStream(previous)

    return put_back


def _entities(value: str) -> tuple[str, ...]:
    from momentsync.envelope import ENTITY_TYPES

    chosen = tuple(part.strip().rstrip("s") for part in value.split(",") if part.strip())
    unknown = [e for e in chosen if e not in ENTITY_TYPES]
    if unknown or not chosen:
        fail(f"--entities takes a comma-separated choice of {', '.join(ENTITY_TYPES)}", EXIT_USAGE)
    return chosen


def backfill(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument(help="Tenant id.")],
    entities: Annotated[
        str, typer.Option(help="Comma-separated: customer, project, invoice.")
    ] = "customer,project,invoice",
    since: Annotated[
        str | None, typer.Option(help="Invoices dated from this day (ISO); earlier ones are not transferred.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show create vs adopt; queue nothing.")] = False,
    max_records: Annotated[
        int,
        typer.Option(
            "--max",
            min=1,
            help="Queue at most this many records per run: the tenant's webhooks wait behind them. "
            "Run again (after the queue drained) for the rest.",
        ),
    ] = DEFAULT_MAX_PER_RUN,
) -> None:
    """Import existing Moment records: adopt what the books hold already, create the rest."""
    from botocore.exceptions import BotoCoreError, ClientError
    from rich.table import Table

    from momentsync.errors import SyncError
    from momentsync.operations import backfill as operations
    from momentsync.ports import NaturalKeyIndex

    columns = (
        operations.LINKED,
        operations.ADOPT,
        operations.CREATE,
        operations.NOT_TRANSFERABLE,
        operations.BEFORE_CUTOVER,
    )
    context = context_of(ctx)
    ctx.call_on_close(_logs_to_stderr())
    chosen = _entities(entities)
    try:
        cutover = date.fromisoformat(since) if since else None
    except ValueError:
        fail(f"--since takes a date (2026-01-01), not {since!r}", EXIT_USAGE)
    tenant = context.tenants().get(tenant_id)
    if tenant is None:
        fail(f"tenant {tenant_id} not found", EXIT_NOT_FOUND)
    try:
        session = open_session(context, tenant)
    except (ClientError, BotoCoreError) as exc:
        fail(
            f"backfill reaches the books the way the processor does and reads its configuration first: "
            f"{exc}. The operator needs cloudformation:DescribeStackResource on the stack and "
            f"lambda:GetFunctionConfiguration on its ProcessorFunction (and secretsmanager:GetSecretValue "
            f"on the tenant and app secrets)"
        )
    except SyncError as exc:
        fail(f"{exc.reason}")
    try:
        target = session.connector
        if not isinstance(target, NaturalKeyIndex):
            fail(
                f"backfill reads the target's lists, which this release does for Fiken and SpareBank 1 "
                f"(tenant {tenant_id} transfers to {tenant.target.value}); use `momentsync resync --since`",
                EXIT_USAGE,
            )
        if not context.as_json:
            errors.print("reading the books' lists and Moment's records ...")
        # Before anything is read: an epoch forgotten while this backfill runs stays forgotten.
        epochs = context.state_epochs()
        seen = (epochs.resets(tenant.tenant_id), epochs.table_generation())
        plan = operations.plan_backfill(
            tenant,
            moment=session.moment,
            target=target,
            links=context.sync_state(),
            entities=chosen,
            since=cutover,
            target_requests=lambda: target.remote_calls,
        )
    except SyncError as exc:
        fail(f"{exc.reason}")

    counts = plan.counts()
    if context.as_json:
        print_json(
            {
                "tenant_id": tenant_id,
                "dry_run": dry_run,
                "counts": counts,
                "target_reads": plan.target_reads,
                "records": [r.__dict__ for r in plan.records] if dry_run else None,
            }
            | (
                {}
                if dry_run
                else {
                    "queued": _execute(context, tenant, plan, max_records),
                    "not_queued": max(0, len(plan.to_queue) - max_records),
                    "state_epoch": _establish_epoch(context, tenant, plan, seen),
                }
            )
        )
        return
    table = Table(title=f"backfill {tenant_id}" + (" (dry run)" if dry_run else ""))
    table.add_column("entity")
    for column in columns:
        table.add_column(column, justify="right")
    for entity, by_action in counts.items():
        if entity in chosen:
            table.add_row(entity, *(str(by_action.get(column, 0)) for column in columns))
    console.print(table)
    console.print(f"requests to the books for the plan: {plan.target_reads}")
    if dry_run:
        for record in plan.to_queue[:50]:
            console.print(
                f"  {record.action:6} {record.entity_type} #{record.moment_id} ({record.number})"
                + (f" -> {record.remote_id}" if record.remote_id else "")
            )
        return
    queued = _execute(context, tenant, plan, max_records)
    console.print(f"queued {sum(queued.values())} record(s): {queued}")
    if epoch := _establish_epoch(context, tenant, plan, seen):
        console.print(
            f"state complete since {epoch['since']}: Moment invoices above id {epoch['invoice_id_floor']} "
            "are created without a lookup by invoice number"
        )
    if (rest := len(plan.to_queue) - max_records) > 0:
        console.print(
            f"{rest} more not queued (--max {max_records}): run the same command again once these are "
            "processed; it queues only what is not linked yet"
        )
    if not tenant.processing_enabled:
        errors.print(f"[yellow]tenant is {tenant.status.value}: the events park until it is resumed[/yellow]")


def _execute(context: Context, tenant: Tenant, plan: Any, max_records: int) -> dict[str, int]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from momentsync.operations.backfill import Backfill

    run = Backfill(queue=context.event_queue(), audit=context.audit(), actor=context.actor())
    with Progress(
        TextColumn("queueing"),
        BarColumn(),
        MofNCompleteColumn(),
        console=errors,
        transient=True,
        disable=context.as_json,
    ) as progress:
        task = progress.add_task("backfill", total=min(len(plan.to_queue), max_records))
        try:
            return run.execute(
                tenant, plan, on_sent=lambda _record: progress.advance(task), max_records=max_records
            )
        except Exception as exc:  # noqa: BLE001 - a line with the remedy, never a traceback
            fail(
                f"queueing stopped after {int(progress.tasks[0].completed)} record(s): "
                f"{type(exc).__name__}; run the same command again: it queues only what is not linked yet"
            )


def _establish_epoch(
    context: Context, tenant: Tenant, plan: Any, seen: tuple[int, str]
) -> dict[str, Any] | None:
    """After a backfill that listed every Moment invoice and the books' lists: from now on our state is
    complete for invoices newer than any it saw (momentsync.sync.state_epoch). Moment's own integration
    must be off by then: a tenant still running it is a second writer the epoch cannot see."""
    floor = plan.invoice_id_floor
    if floor is None:
        return None
    from momentsync.aws.state_epochs import EpochResetMeanwhile

    epochs = context.state_epochs()
    try:
        epoch = epochs.establish(
            tenant,
            since=plan.started_at,
            invoice_id_floor=floor,
            established_by="backfill",
            resets_seen=seen[0],
            table_generation_seen=seen[1],
        )
    except EpochResetMeanwhile:
        errors.print(
            "[yellow]state epoch not set: it was reset (--state-incomplete) or the sync-state table "
            "restored while this backfill ran; run the backfill again[/yellow]"
        )
        return None
    record_action(
        context,
        "tenant.state_epoch",
        tenant.tenant_id,
        {"established_by": "backfill", "since": epoch.since.isoformat(), "invoice_id_floor": floor},
    )
    return {"since": epoch.since.isoformat(), "invoice_id_floor": floor}
