"""`momentsync dlq list | show | replay`: inspect dead letters without consuming them, replay them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from momentsync.cli.context import (
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    Context,
    age,
    console,
    context_of,
    errors,
    fail,
    parse_since,
    print_json,
)

app = typer.Typer(help="Inspect and replay the dead-letter queue.", no_args_is_help=True)

TenantOption = Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")]
TypeOption = Annotated[
    str | None, typer.Option("--type", help="Only this entity type (customer, project, invoice).")
]
SinceOption = Annotated[
    str | None, typer.Option(help="Dead-lettered at or after: ISO, or an age like 6h, 2d.")
]
UntilOption = Annotated[str | None, typer.Option(help="Dead-lettered before: ISO, or an age like 1h.")]
ReasonOption = Annotated[str | None, typer.Option(help="Reason contains this text (case-insensitive).")]
ErrorClassOption = Annotated[str | None, typer.Option(help="Exactly this error class (e.g. PermanentError).")]

if TYPE_CHECKING:
    from momentsync.dead_letters import DeadLetter, DeadLetterFilter
    from momentsync.operations.replay import (
        ReplayReport,
    )


def register(main: typer.Typer) -> None:
    main.add_typer(app, name="dlq")


def build_filter(
    tenant: str | None,
    entity_type: str | None,
    since: str | None,
    until: str | None,
    reason: str | None,
    error_class: str | None,
) -> DeadLetterFilter:
    from momentsync.dead_letters import DeadLetterFilter
    from momentsync.envelope import ENTITY_TYPES

    if entity_type and entity_type not in ENTITY_TYPES:
        fail(f"--type must be one of {', '.join(ENTITY_TYPES)}", EXIT_USAGE)
    return DeadLetterFilter(
        tenant_id=tenant,
        entity_type=entity_type,
        since=parse_since(since),
        until=parse_since(until),
        reason=reason,
        error_class=error_class,
    )


@app.command("list")
def dlq_list(
    ctx: typer.Context,
    tenant: TenantOption = None,
    entity_type: TypeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    reason: ReasonOption = None,
    error_class: ErrorClassOption = None,
) -> None:
    """Dead letters, oldest first. Reads without consuming: every message stays in the queue."""
    context = context_of(ctx)
    where = build_filter(tenant, entity_type, since, until, reason, error_class)
    result = context.dead_letter_queue().peek(where)
    if context.as_json:
        print_json(
            {
                "dead_letters": [letter.model_dump(mode="json") for letter in result.dead_letters],
                "scanned": result.scanned,
                "hidden": result.hidden,
            }
        )
        return
    _print_letters(result.dead_letters)
    console.print(f"{len(result.dead_letters)} matching of {result.scanned} read")
    if result.hidden:
        errors.print(
            f"[yellow]about {result.hidden} more are queued behind the ones shown[/yellow] "
            "(FIFO shows the first ones of each tenant until they are replayed)"
        )


@app.command("show")
def dlq_show(
    ctx: typer.Context, message_id: Annotated[str, typer.Argument(help="Message id from `dlq list`.")]
) -> None:
    """One dead letter in full: reason, attempts, and the queued event (Moment's ids)."""
    context = context_of(ctx)
    letter = context.dead_letter_queue().show(message_id)
    if letter is None:
        fail(
            f"dead letter {message_id} not found (replayed already, or behind others of its tenant)",
            EXIT_NOT_FOUND,
        )
    detail = letter.detail()
    if context.as_json:
        print_json(detail)
        return
    table = Table(show_header=False, title=f"dead letter {message_id}")
    for key, value in detail.items():
        table.add_row(key, escape(str(value)))  # reasons quote Moment's text: never markup
    console.print(table)


@app.command("replay")
def dlq_replay(
    ctx: typer.Context,
    tenant: TenantOption = None,
    entity_type: TypeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    reason: ReasonOption = None,
    error_class: ErrorClassOption = None,
    max_messages: Annotated[
        int | None, typer.Option("--max", min=1, help="Replay at most this many.")
    ] = None,
    rate: Annotated[
        float | None, typer.Option(min=0.1, max=500, help="At most this many per second.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run/--execute", help="Only show what would be replayed (the default).")
    ] = True,
    replay_all: Annotated[
        bool, typer.Option("--all", help="Everything, via SQS StartMessageMoveTask (no filters).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Send dead letters back to the event queue (fix the cause first). Dry run unless --execute.

    Each is re-sent in its tenant's group as a new event (origin "replay", replay_of = its event id)
    and removed from the DLQ only once sent. Exit 1 if any failed.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from momentsync.operations.replay import DeadLetterReplayer

    context = context_of(ctx)
    where = build_filter(tenant, entity_type, since, until, reason, error_class)
    if replay_all:
        if not where.is_empty or max_messages is not None:
            fail("--all replays everything: it takes no filters and no --max", EXIT_USAGE)
        _replay_all(context, rate=rate, dry_run=dry_run, yes=yes)
        return

    replayer = DeadLetterReplayer(
        dead_letters=context.dead_letter_queue(),
        queue=context.event_queue(),
        audit=context.audit() if not dry_run else _NoAudit(),
        actor=context.actor() if not dry_run else "dry-run",
    )
    plan = replayer.replay(where, max_messages=max_messages, dry_run=True)
    if dry_run:
        _print_report(context, plan)
        if not context.as_json:
            console.print("dry run: nothing was sent. Add [bold]--execute[/bold] to replay.")
        return
    if not plan.items:
        _print_report(context, plan)
        return
    if not yes and not typer.confirm(f"Replay {len(plan.items)} dead letter(s) into the event queue?"):
        raise typer.Exit(EXIT_FAILED)
    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        console=errors,
        transient=True,
        disable=context.as_json,
    ) as progress:
        task = progress.add_task("replay", total=len(plan.items))
        report = replayer.replay(
            where,
            max_messages=max_messages,
            rate=rate,
            dry_run=False,
            on_item=lambda _item: progress.advance(task),
        )
    _print_report(context, report)
    if report.failed:
        raise typer.Exit(EXIT_FAILED)


class _NoAudit:
    def record(self, **_kwargs: object) -> None:
        return None


def _replay_all(context: Context, *, rate: float | None, dry_run: bool, yes: bool) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    from momentsync.aws.redrive import replay_all_with_move_task
    from momentsync.cli.failures import first_line

    depth = context.dead_letter_queue().depth()
    if dry_run:
        if context.as_json:
            print_json(
                {"dry_run": True, "approximate_messages": depth.visible, "method": "StartMessageMoveTask"}
            )
        else:
            console.print(
                f"would move about {depth.visible} dead letter(s) back to the event queue with SQS "
                "StartMessageMoveTask (bodies unchanged). Add [bold]--execute[/bold] to start it."
            )
        return
    target = context.target
    if target.is_local:
        # moto has no StartMessageMoveTask: it answers with an HTML error page.
        fail(
            "--all uses SQS StartMessageMoveTask, which the local stack (moto) does not offer",
            EXIT_USAGE,
            "replay message by message instead: `momentsync --local dlq replay --execute` (filters allowed)",
        )
    if not yes and not typer.confirm(
        f"Move all (about {depth.visible}) dead letters back to the event queue?"
    ):
        raise typer.Exit(EXIT_FAILED)
    try:
        task = replay_all_with_move_task(
            target.client("sqs"),
            dead_letter_queue_url=target.dead_letter_queue_url,
            event_queue_url=target.event_queue_url,
            audit=context.audit(),
            actor=context.actor(),
            rate=int(rate) if rate else None,
        )
    except (ClientError, BotoCoreError) as exc:
        fail(f"SQS refused the move task: {first_line(str(exc))}")
    if context.as_json:
        print_json({"dry_run": False, **task.__dict__})
    else:
        console.print(
            f"move task started ({task.approximate_messages} message(s)); handle {task.task_handle}. "
            "Follow it with `aws sqs list-message-move-tasks --source-arn ...`."
        )


def _print_letters(letters: list[DeadLetter]) -> None:
    table = Table(title="dead letters (oldest first)")
    for column in ("message id", "age", "tenant", "record", "event", "error", "tries", "reason"):
        # Ids and reasons wrap rather than being cut: an operator copies the one and reads the other.
        table.add_column(column, overflow="fold" if column in {"message id", "reason"} else "ellipsis")
    for letter in letters:
        table.add_row(
            letter.message_id,
            age(letter.age_seconds),
            letter.tenant_id,
            f"{letter.entity_type or '?'} {letter.entity_id if letter.entity_id is not None else ''}",
            letter.event_id or "-",
            letter.error_class,
            str(letter.receive_count or "-"),
            escape(letter.reason or ""),
        )
    console.print(table)


def _print_report(context: Context, report: ReplayReport) -> None:
    from momentsync.operations.replay import ReplayStatus

    if context.as_json:
        print_json(report.as_dict())
        return
    table = Table(title="replay plan" if report.dry_run else "replay")
    for column in ("message id", "tenant", "record", "event", "status", "new event", "note"):
        table.add_column(column)
    for item in report.items:
        letter = item.dead_letter
        note = item.error or ("sent; DLQ copy not deleted" if item.left_in_dead_letter_queue else "")
        table.add_row(
            letter.message_id,
            letter.tenant_id,
            f"{letter.entity_type or '?'} {letter.entity_id if letter.entity_id is not None else ''}",
            letter.event_id or "-",
            item.status.value,
            item.new_event_id or "-",
            escape(note),
        )
    console.print(table)
    if report.dry_run:
        console.print(
            f"{report.count(ReplayStatus.WOULD_REPLAY)} would be replayed, {report.failed} cannot be"
        )
    else:
        console.print(f"succeeded: {report.succeeded}, failed: {report.failed}")
