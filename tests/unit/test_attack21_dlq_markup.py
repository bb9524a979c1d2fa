"""Attack on #21's reasons in the operator CLI: #21's errors quote Moment's values (an unknown export
status, two conflicting names) and names; `dlq show` / `dlq list` printed them as rich markup, so a
reason containing ``[/]`` crashed the command an operator needs to read it."""

from __future__ import annotations

from types import SimpleNamespace

from momentsync.cli import dlq_commands
from momentsync.cli.context import console

REASON = "Moment invoice 7: unknown export status '[/]' (field 'exportStatus'); Moment sent: [bold]x"


class Letter(SimpleNamespace):
    def detail(self):
        return {"message_id": "m1", "reason": REASON}


def test_dlq_show_prints_a_reason_with_brackets_as_text():
    queue = SimpleNamespace(show=lambda message_id: Letter())
    ctx = SimpleNamespace(obj=SimpleNamespace(as_json=False, dead_letter_queue=lambda: queue))
    with console.capture() as captured:
        dlq_commands.dlq_show(ctx, "m1")
    text = captured.get().replace("\n", "").replace("│", "").replace(" ", "")
    assert "'[/]'" in text and "[bold]x" in text
