"""Every Lambda handler pins ``log_event=False`` (#20): Powertools logs the whole event when the
POWERTOOLS_LOGGER_LOG_EVENT variable is true, and a webhook's path holds the tenant's secret, a
connect request's query its one-time token. One environment variable must not be able to leak them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


@pytest.mark.parametrize("app", sorted(FUNCTIONS.glob("*/app.py")), ids=lambda p: p.parent.name)
def test_inject_lambda_context_pins_log_event_false(app):
    tree = ast.parse(app.read_text())
    handler = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "lambda_handler")
    [inject] = [
        d
        for d in handler.decorator_list
        if isinstance(d, ast.Call)
        and isinstance(d.func, ast.Attribute)
        and d.func.attr == "inject_lambda_context"
    ]
    pinned = {k.arg: k.value for k in inject.keywords}
    assert isinstance(pinned.get("log_event"), ast.Constant) and pinned["log_event"].value is False
