"""`momentsync audit`: who did what to which tenant, and when."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from momentsync.cli.context import console, context_of, parse_since, print_json, when


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)


def audit(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Option(help="Only this tenant's records (STACK: stack-wide).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this time: ISO, or an age like 6h, 2d.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
) -> None:
    """Operator actions, newest first: replays, pause/resume/disable, settings, key rotations."""
    context = context_of(ctx)
    records = context.audit().query(tenant_id=tenant, since=parse_since(since), limit=limit)
    if context.as_json:
        print_json([record.model_dump(mode="json") for record in records])
        return
    table = Table(title="audit trail (newest first)")
    for column in ("time", "actor", "action", "tenant", "details"):
        table.add_column(column)
    for record in records:
        table.add_row(
            when(record.recorded_at),
            record.actor,
            record.action,
            record.tenant_id,
            json.dumps(record.details, default=str)[:200],
        )
    console.print(table)
