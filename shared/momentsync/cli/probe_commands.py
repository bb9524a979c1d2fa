"""`momentsync tenants probe TENANT [--count N] [--save DIR]`: the tenant's live Moment vs our models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from momentsync.cli.context import EXIT_NOT_FOUND, EXIT_USAGE, console, context_of, errors, fail, print_json


def register(tenants_app: typer.Typer) -> None:
    tenants_app.command("probe")(tenants_probe)


def tenants_probe(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument(help="Tenant id.")],
    count: Annotated[int, typer.Option(min=1, max=50, help="Records read per entity.")] = 5,
    save: Annotated[
        Path | None, typer.Option(help="Keep the masked samples here (the Moment emulator can serve them).")
    ] = None,
) -> None:
    """Read a few records of each entity from the tenant's Moment (GETs only) and compare them with
    the models: per field present / empty / never seen, unknown fields, what would fail. Values masked."""
    from momentsync.errors import SyncError
    from momentsync.operations.moment_probe import NEVER, PRESENT, probe_tenant, save_samples
    from momentsync.operations.resync import ResyncRefused, open_moment_client

    context = context_of(ctx)
    tenant = context.tenants().get(tenant_id)
    if tenant is None:
        fail(f"tenant {tenant_id} not found", EXIT_NOT_FOUND)
    try:
        with open_moment_client(
            tenant, context.credentials(), base_url=context.target.moment_api_base_url
        ) as moment:
            probes = probe_tenant(moment, count)
    except ResyncRefused as exc:
        fail(str(exc), EXIT_USAGE)
    except SyncError as exc:
        fail(f"Moment: {escape(exc.reason)}")
    saved = save_samples(probes, save) if save is not None else []
    if context.as_json:
        print_json(
            {
                "tenant_id": tenant_id,
                "entities": [p.as_dict() for p in probes],
                "saved": [str(p) for p in saved],
            }
        )
        return
    for probe in probes:
        if probe.error:
            errors.print(f"[red]{probe.collection}[/red]: {escape(probe.error)}")
            continue
        table = Table(title=f"{probe.collection}: {len(probe.samples)} sample(s)")
        for column in ("field", "status", "in samples", "sent as"):
            table.add_column(column)
        for seen in probe.fields:
            style = "green" if seen.status == PRESENT else "dim" if seen.status == NEVER else "yellow"
            table.add_row(
                escape(seen.name),
                f"[{style}]{seen.status}[/{style}]",
                str(seen.seen),
                escape(", ".join(seen.as_names)),
            )
        console.print(table)
        if probe.unknown:
            # Moment's names and values are text, never markup (a field named "[/]" crashed the probe).
            console.print(f"[yellow]fields no model knows[/yellow]: {escape(', '.join(probe.unknown))}")
        for problem in probe.problems:
            console.print(f"[red]problem[/red]: {escape(problem)}")
    for path in saved:
        console.print(f"saved {escape(str(path))}")
