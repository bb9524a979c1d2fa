"""Attack on issue 17's "all ports in one module" and on the import-direction check
(tests/unit/test_architecture.py, fed by tests/unit/import_graph.py)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "shared" / "momentsync"


def _is_protocol(base: ast.expr) -> bool:
    target = base.value if isinstance(base, ast.Subscript) else base
    return (isinstance(target, ast.Name) and target.id == "Protocol") or (
        isinstance(target, ast.Attribute) and target.attr == "Protocol"
    )


def test_every_public_protocol_of_the_layer_is_in_ports():
    """A port is a public Protocol; a module's private typing helper (``_Random``) is not one."""
    elsewhere = [
        f"{path.relative_to(REPO)}: {node.name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "ports.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
        and not node.name.startswith("_")
        and any(_is_protocol(base) for base in node.bases)
    ]
    assert elsewhere == []
