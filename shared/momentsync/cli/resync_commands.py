"""`momentsync resync TENANT --entity TYPE (--ids ... | --since ...)`: re-send records as fresh events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from momentsync.cli.context import (
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    console,
    context_of,
    errors,
    fail,
    parse_since,
    print_json,
)

if TYPE_CHECKING:
    pass


def register(app: typer.Typer) -> None:
    app.command("resync")(resync)


def _ids(values: list[str]) -> list[int]:
    ids: list[int] = []
    for value in values:
        for part in value.replace(",", " ").split():
            if not part.isdigit():
                fail(f"--ids takes Moment ids (numbers), not {part!r}", EXIT_USAGE)
            ids.append(int(part))
    return ids


def resync(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument(help="Tenant id.")],
    entity: Annotated[str, typer.Option(help="customer, project or invoice.")],
    ids: Annotated[
        list[str] | None, typer.Option("--ids", help="Moment ids, comma-separated or repeated.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Every record Moment changed since: ISO, or an age like 2d.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the ids, send nothing.")] = False,
) -> None:
    """Queue records again as fresh events (origin "resync"); the processor re-reads them from Moment."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from momentsync.envelope import ENTITY_TYPES
    from momentsync.errors import SyncError
    from momentsync.operations.resync import (
        Resync,
        ResyncRefused,
        moment_ids_modified_since,
        open_moment_client,
    )

    context = context_of(ctx)
    if entity not in ENTITY_TYPES:
        fail(f"--entity must be one of {', '.join(ENTITY_TYPES)}", EXIT_USAGE)
    if bool(ids) == bool(since):
        fail("give either --ids or --since", EXIT_USAGE)
    tenant = context.tenants().get(tenant_id)
    if tenant is None:
        fail(f"tenant {tenant_id} not found", EXIT_NOT_FOUND)

    if ids:
        moment_ids, selection = _ids(ids), "by id"
    else:
        modified_since = parse_since(since)
        assert modified_since is not None
        selection = f"modified since {modified_since.isoformat()}"
        try:
            with (
                open_moment_client(
                    tenant, context.credentials(), base_url=context.target.moment_api_base_url
                ) as moment,
                Progress(
                    SpinnerColumn(),
                    TextColumn("{task.description}"),
                    console=errors,
                    transient=True,
                    disable=context.as_json,
                ) as progress,
            ):
                task = progress.add_task(f"listing {entity}s changed in Moment")
                moment_ids = []
                for moment_id in moment_ids_modified_since(moment, entity, modified_since):
                    moment_ids.append(moment_id)
                    progress.update(
                        task, description=f"listing {entity}s changed in Moment: {len(moment_ids)}"
                    )
        except ResyncRefused as exc:
            fail(str(exc), EXIT_USAGE)
        except SyncError as exc:
            fail(f"Moment: {exc.reason}")

    if dry_run:
        if context.as_json:
            print_json({"dry_run": True, "tenant_id": tenant_id, "entity_type": entity, "ids": moment_ids})
        else:
            console.print(f"would resync {len(moment_ids)} {entity}(s) of {tenant_id}: {moment_ids[:50]}")
        return

    resync_run = Resync(queue=context.event_queue(), audit=context.audit(), actor=context.actor())
    try:
        with Progress(
            TextColumn("queueing"),
            BarColumn(),
            MofNCompleteColumn(),
            console=errors,
            transient=True,
            disable=context.as_json,
        ) as progress:
            task = progress.add_task("resync", total=len(moment_ids))
            report = resync_run.by_ids(
                tenant, entity, moment_ids, reason=selection, on_sent=lambda _id: progress.advance(task)
            )
    except ResyncRefused as exc:
        fail(str(exc), EXIT_USAGE)
    if context.as_json:
        print_json(report.as_dict())
    else:
        console.print(f"queued {len(report.sent)} {entity}(s) of {tenant_id}; failed: {len(report.failed)}")
        if not tenant.processing_enabled:
            errors.print(
                f"[yellow]tenant is {tenant.status.value}: the events park until it is resumed[/yellow]"
            )
    if report.failed:
        raise typer.Exit(EXIT_FAILED)
