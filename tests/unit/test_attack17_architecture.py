"""Attack on issue 17's "all ports in one module" and on the import-direction check
(tests/unit/test_architecture.py, fed by tests/unit/import_graph.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "shared" / "momentsync"


# A class whose bases name Protocol (regex, not ast.parse: see tests/unit/test_packaging.py why).
PROTOCOL_CLASS = re.compile(r"^\s*class\s+(\w+)\s*\(([^)]*)\)\s*:", re.M)


def test_every_public_protocol_of_the_layer_is_in_ports():
    """A port is a public Protocol; a module's private typing helper (``_Random``) is not one."""
    elsewhere = [
        f"{path.relative_to(REPO)}: {match.group(1)}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "ports.py"
        for match in PROTOCOL_CLASS.finditer(path.read_text())
        if not match.group(1).startswith("_") and re.search(r"\bProtocol\b", match.group(2))
    ]
    assert elsewhere == []


def test_the_import_graph_sees_relative_and_literal_dynamic_imports(tmp_path):
    """``sync/`` must not reach a connector: neither ``from ..connectors import x`` nor
    ``importlib.import_module("momentsync.connectors...")`` inside a function may hide it."""
    package = tmp_path / "shared" / "momentsync"
    for folder in ("", "sync", "connectors", "connectors/fiken"):
        (package / folder).mkdir(parents=True, exist_ok=True)
        (package / folder / "__init__.py").write_text("")
    (package / "connectors" / "fiken" / "client.py").write_text("import httpx\n")
    (package / "sync" / "sneaky.py").write_text(
        "import importlib\n"
        "from ..connectors.fiken import client\n"
        "from . import processor\n"
        "def later():\n"
        "    return importlib.import_module('momentsync.connectors.fiken.client'), __import__('boto3')\n"
    )
    (package / "sync" / "processor.py").write_text("")
    (package / "sync" / "shadowed.py").write_text(
        "TYPE_CHECKING = True\nif TYPE_CHECKING:\n    from momentsync.connectors.fiken import client\n"
    )
    (package / "sync" / "annotations.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from momentsync.connectors.fiken import client\n"
    )
    (tmp_path / "functions").mkdir()
    result = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(Path(__file__).with_name("import_graph.py")), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    graph = json.loads(result.stdout)["runtime_imports"]
    assert "momentsync.connectors.fiken.client" in graph["momentsync.sync.shadowed"]  # runs at import
    assert "momentsync.connectors.fiken.client" not in graph["momentsync.sync.annotations"]  # never runs
    sneaky = set(graph["momentsync.sync.sneaky"])
    assert {
        "momentsync.connectors.fiken",
        "momentsync.connectors.fiken.client",
        "momentsync.sync",
        "momentsync.sync.processor",
        "boto3",
    } <= sneaky


def test_no_port_method_returns_any():
    """A typed port: what a port hands back is named (the sweep record, or ``object`` where nobody reads
    it), never ``Any``, which switches the type checker off for every caller."""
    text = (PACKAGE / "ports.py").read_text()
    assert re.findall(r"\) -> Any\b", text) == []


# boto3 client and table methods the adapters call: a module that calls one on a client it was handed
# (typed Any) is an AWS adapter whether or not it imports boto3, which is all test_architecture.py sees.
AWS_API_CALL = re.compile(
    r"\.(put_item|get_item|update_item|delete_item|batch_write_item|transact_write_items|scan|"
    r"send_message|send_message_batch|receive_message|delete_message|change_message_visibility_batch|"
    r"get_queue_attributes|start_message_move_task|list_message_move_tasks|"
    r"put_secret_value|create_secret|get_metric_statistics|put_metric_data|send_email|publish)\("
)
# Issue 17 promised every AWS adapter in momentsync/aws/: none lives elsewhere (the dead-letter queue's
# SQS adapter moved to aws/dead_letter_queue.py; replay depends on the DeadLetterInbox port).
KNOWN_ADAPTERS_OUTSIDE_AWS: set[str] = set()


def test_no_module_outside_the_adapters_calls_the_aws_api():
    calling = {
        str(path.relative_to(REPO))
        for path in sorted(PACKAGE.rglob("*.py"))
        if not str(path.relative_to(PACKAGE)).startswith(("aws/", "cli/", "wiring/"))
        and AWS_API_CALL.search(path.read_text())
    }
    assert calling == KNOWN_ADAPTERS_OUTSIDE_AWS
