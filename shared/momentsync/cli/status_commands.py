"""`momentsync status [TENANT]`: connection, sync counts, parked events, queue backlog."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from momentsync.cli.context import (
    EXIT_CONFLICT,
    EXIT_NOT_FOUND,
    age,
    console,
    context_of,
    fail,
    print_json,
    when,
)

_CONNECTION_STYLE = {"ok": "green", "paused": "yellow", "disabled": "dim"}

if TYPE_CHECKING:
    from momentsync.operations.status import (
        Backlog,
        TenantReport,
    )


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(
    ctx: typer.Context,
    tenant_id: Annotated[
        str | None, typer.Argument(help="One tenant in detail (default: every tenant).")
    ] = None,
    recount: Annotated[
        bool,
        typer.Option(
            help="Rebuild the counts from every record first (after upgrading to counted status, or to "
            "repair a count a crash left off by one); reads all of the tenants' records."
        ),
    ] = False,
) -> None:
    """How the stack and its tenants are doing: connection, synced / waiting / failed, backlog."""
    from momentsync.aws.queue_metrics import CloudWatchQueueAge, queue_backlog
    from momentsync.operations.status import tenant_report

    context = context_of(ctx)
    target = context.target
    backlog = queue_backlog(
        target.client("sqs"),
        event_queue_url=target.event_queue_url,
        dead_letter_queue_url=target.dead_letter_queue_url,
        # CloudWatch has SQS's age metric only when deployed; the local stack reports it unavailable.
        queue_age=None if target.is_local else CloudWatchQueueAge(target.client("cloudwatch")),
    )
    repository = context.tenants()
    if tenant_id:
        tenant = repository.get(tenant_id)
        if tenant is None:
            fail(f"tenant {tenant_id} not found", EXIT_NOT_FOUND)
        tenants = [tenant]
    else:
        tenants = repository.list()
    sync_state, parked, credentials = context.sync_state(), context.parked(), context.credentials()
    sweeps = context.sweeps()
    if recount:
        from momentsync.aws.sync_state import RecountRaced

        for tenant in tenants:
            try:
                sync_state.recount(tenant.tenant_id)
            except RecountRaced:
                fail(
                    f"tenant {tenant.tenant_id}'s records kept changing during the recount",
                    EXIT_CONFLICT,
                    hint="run `momentsync status --recount` again when it is quieter",
                )
    reports = [
        tenant_report(t, sync_state=sync_state, parked=parked, credentials=credentials, sweeps=sweeps)
        for t in tenants
    ]

    if context.as_json:
        data: dict[str, Any] = {"backlog": backlog.as_dict()}
        if tenant_id:
            data["tenant"] = reports[0].as_dict()
        else:
            data["tenants"] = [r.as_dict() for r in reports]
        print_json(data)
        return
    if tenant_id:
        _print_tenant(reports[0])
    else:
        _print_overview(reports)
    _print_backlog(backlog)


def _connection(report: TenantReport) -> str:
    style = _CONNECTION_STYLE.get(report.connection, "red")
    return f"[{style}]{report.connection}[/{style}]"


def _print_overview(reports: list[TenantReport]) -> None:
    table = Table(title="tenants")
    for column in (
        "tenant",
        "connection",
        "synced",
        "waiting",
        "failed",
        "parked",
        "last success",
        "last error",
        "last sweep",
    ):
        table.add_column(
            column, justify="right" if column in {"synced", "waiting", "failed", "parked"} else "left"
        )
    for report in reports:
        latest = report.last_error
        error = f"{when(latest.last_error_at)} {(latest.last_error or '')[:60]}" if latest else "-"
        table.add_row(
            report.tenant_id,
            _connection(report),
            str(report.synced),
            str(report.waiting),
            f"[red]{report.failed}[/red]" if report.failed else "0",
            str(report.parked),
            when(report.last_success_at),
            error,
            _sweep(report.last_sweep),
        )
    console.print(table)
    # Moment's 404s, kept apart: deleted (we had linked it) vs not found (an id we never linked).
    for entity in report.entities:
        deleted, not_found = entity.by_outcome.get("deleted", 0), entity.by_outcome.get("not_found", 0)
        if deleted or not_found:
            console.print(
                f"  {entity.entity_type}: {deleted} deleted in Moment, {not_found} not found in Moment"
            )


def _sweep(sweep: dict[str, Any] | None) -> str:
    """When, how it ended, what it found missing or older and enqueued (repaired), drift flagged."""
    if sweep is None:
        return "never"
    found = f"missing {sweep['missing']}, older {sweep['stale']}, enqueued {sweep['enqueued']}"
    drift = f", drift {sweep.get('drift_count') or len(sweep['drift'])}" if sweep.get("drift") else ""
    return f"{when(sweep['finished_at'])} {sweep['outcome']}: {found}{drift}"


def _deep_check(sweep: dict[str, Any] | None) -> str:
    """When the books were last compared with sync state, and what was found missing or different."""
    if not sweep or not sweep.get("deep_checked_at"):
        return "never"
    if sweep.get("deep_check_reason"):
        return f"{when(sweep['deep_checked_at'])} not checked: {sweep['deep_check_reason']}"
    return f"{when(sweep['deep_checked_at'])}: {sweep['deep_checked']} compared, drift {sweep['drift_count']}"


def _print_tenant(report: TenantReport) -> None:
    console.print(
        f"[bold]{report.name}[/bold] ({report.tenant_id}) -> {report.target}: {_connection(report)}"
    )
    if report.status_reason:
        console.print(f"  reason: {report.status_reason}")
    for problem, reason in report.problems.items():
        console.print(f"  problem {problem}: {reason}")
    console.print(
        f"  parked events: {report.parked}"
        + ("  (resume: momentsync tenants resume)" if report.parked else "")
    )
    console.print(f"  last sweep: {_sweep(report.last_sweep)}")
    if report.last_sweep and report.last_sweep.get("reason"):
        console.print(f"    {report.last_sweep['reason']}")
    console.print(f"  last deep check: {_deep_check(report.last_sweep)}")
    drifts = (report.last_sweep or {}).get("drift") or []
    if drifts:
        from momentsync.reconcile.deep_check import describe

        for drift in drifts:
            console.print(f"    drift: {describe(drift)}")
    table = Table()
    for column in (
        "entity",
        "synced",
        "waiting",
        "failed",
        "other",
        "last success",
        "last error at",
        "last error",
    ):
        table.add_column(column)
    for entity in report.entities:
        error = entity.last_error or "-"
        if entity.last_error_moment_id is not None:
            error = f"#{entity.last_error_moment_id}: {error}"
        table.add_row(
            entity.entity_type,
            str(entity.synced),
            str(entity.waiting),
            f"[red]{entity.failed}[/red]" if entity.failed else "0",
            str(entity.other),
            when(entity.last_success_at),
            when(entity.last_error_at),
            error,
        )
    console.print(table)
    # Moment's 404s, kept apart: deleted (we had linked it) vs not found (an id we never linked).
    for entity in report.entities:
        deleted, not_found = entity.by_outcome.get("deleted", 0), entity.by_outcome.get("not_found", 0)
        if deleted or not_found:
            console.print(
                f"  {entity.entity_type}: {deleted} deleted in Moment, {not_found} not found in Moment"
            )


def _print_backlog(backlog: Backlog) -> None:
    queue, dlq = backlog.event_queue, backlog.dead_letter_queue
    console.print(
        f"event queue: {queue.visible} waiting, {queue.in_flight} in flight, "
        f"oldest {age(backlog.oldest_message_age_seconds)}"
    )
    hint = "  (momentsync dlq list)" if dlq.total else ""
    console.print(
        f"dead letters: {'[red]' if dlq.total else ''}{dlq.total}{'[/red]' if dlq.total else ''}{hint}"
    )
