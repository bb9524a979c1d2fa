"""`momentsync log TENANT`: the transfer log, newest first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from momentsync.cli.context import (
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    console,
    context_of,
    fail,
    parse_since,
    print_json,
    when,
)

_OUTCOME_STYLE = {
    "synced": "green",
    "failed": "red",
    "retrying": "yellow",
    "parked": "yellow",
    "waiting": "cyan",
    "not_found": "magenta",
}

if TYPE_CHECKING:
    pass


def register(app: typer.Typer) -> None:
    app.command("log")(log)


def log(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument(help="Tenant id.")],
    since: Annotated[str | None, typer.Option(help="From this time: ISO, or an age like 6h, 2d.")] = None,
    entity: Annotated[str | None, typer.Option(help="customer, project or invoice.")] = None,
    outcome: Annotated[
        str | None, typer.Option(help="synced, failed, waiting, parked, retrying, ...")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many entries.")] = 50,
) -> None:
    """What happened to each event of a tenant: outcome, remote calls, duration, reason."""
    from momentsync.envelope import ENTITY_TYPES
    from momentsync.sync.transfer_log import Outcome

    context = context_of(ctx)
    if entity and entity not in ENTITY_TYPES:
        fail(f"--entity must be one of {', '.join(ENTITY_TYPES)}", EXIT_USAGE)
    if outcome and outcome not in {o.value for o in Outcome}:
        fail(f"--outcome must be one of {', '.join(o.value for o in Outcome)}", EXIT_USAGE)
    if context.tenants().get(tenant_id) is None:
        fail(f"tenant {tenant_id} not found", EXIT_NOT_FOUND)
    entries = context.transfer_log().query(
        tenant_id, since=parse_since(since), entity_type=entity, outcome=outcome, limit=limit
    )
    if context.as_json:
        print_json([entry.model_dump(mode="json") for entry in entries])
        return
    table = Table(title=f"transfer log of {tenant_id} (newest first)")
    for column in ("time", "record", "outcome", "origin", "calls", "ms", "remote", "reason"):
        table.add_column(column)
    for entry in entries:
        style = _OUTCOME_STYLE.get(entry.outcome.value, "white")
        table.add_row(
            when(entry.logged_at),
            f"{entry.entity_type} {entry.entity_id}",
            f"[{style}]{entry.outcome.value}[/{style}]",
            entry.origin,
            str(entry.remote_calls),
            str(entry.duration_ms),
            entry.remote_id or "-",
            entry.reason or "",
        )
    console.print(table)
    if not entries:
        console.print("no entries")
