"""The layer's direction, checked on its imports (issue 17): use cases depend on ports; adapters and the
composition roots depend on use cases, never the other way.

``sync/`` (the processor's use cases) reaches no connector, no AWS adapter, no composition root and no
AWS SDK, even through what it imports; only ``momentsync.aws``, ``momentsync.wiring`` and the CLI talk to
AWS; ``momentsync.ports`` loads nothing of the layer (its model imports are for annotations only)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AWS_SDK = ("boto3", "botocore")


@pytest.fixture(scope="module")
def runtime_imports() -> dict[str, list[str]]:
    """Module -> what it imports when loaded, from tests/unit/import_graph.py in a fresh interpreter
    (see test_packaging.py why)."""
    result = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(Path(__file__).with_name("import_graph.py")), str(REPO)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)["runtime_imports"]


def reached(graph: dict[str, list[str]], start: list[str]) -> dict[str, str]:
    """Every module reached from ``start`` (third-party ones by their root), with one module that
    imports it: the path to blame when a test fails."""
    seen: dict[str, str] = {}
    todo = [(name, name) for name in start]
    while todo:
        name, via = todo.pop()
        if name in seen:
            continue
        seen[name] = via
        for imported in graph.get(name, []):
            if imported.startswith("momentsync"):
                while imported not in graph and "." in imported:  # ``from package import name``
                    imported = imported.rsplit(".", 1)[0]
                todo.append((imported, name))
            else:
                todo.append((imported.split(".")[0], name))
    return seen


def test_the_walk_sees_the_layer(runtime_imports):
    assert "momentsync.sync.processor" in runtime_imports
    assert "momentsync.aws.sync_state" in reached(runtime_imports, ["momentsync.wiring.processor"])


def test_sync_imports_no_connector_no_adapter_no_wiring_and_no_aws_sdk(runtime_imports):
    sync = [name for name in runtime_imports if name.startswith("momentsync.sync")]
    found = reached(runtime_imports, sync)
    forbidden = ("momentsync.connectors", "momentsync.aws", "momentsync.wiring", "momentsync.cli", *AWS_SDK)
    bad = {name: via for name, via in found.items() if name == "boto3" or name.startswith(forbidden)}
    assert not bad, f"sync/ reaches (module: imported by) {bad}"


def test_only_the_aws_adapters_the_composition_roots_and_the_cli_import_the_aws_sdk(runtime_imports):
    allowed = ("momentsync.aws", "momentsync.wiring", "momentsync.cli")
    bad = {
        name: [i for i in imports if i.split(".")[0] in AWS_SDK]
        for name, imports in runtime_imports.items()
        if not name.startswith(allowed) and any(i.split(".")[0] in AWS_SDK for i in imports)
    }
    assert not bad, bad


def test_ports_load_nothing_of_the_layer(runtime_imports):
    assert not [name for name in runtime_imports["momentsync.ports"] if name.startswith("momentsync")]


def test_no_module_but_the_composition_roots_imports_one(runtime_imports):
    bad = {
        name
        for name, imports in runtime_imports.items()
        if not name.startswith(("momentsync.wiring", "momentsync.cli"))
        and any(i.startswith("momentsync.wiring") for i in imports)
    }
    assert not bad, bad
