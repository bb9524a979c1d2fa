"""Prints, as JSON, what the momentsync package imports: the third-party top-level modules, and the
momentsync modules reached from functions/*/app.py (lazy imports inside functions included).

Run as a script by tests/unit/test_packaging.py, in its own interpreter (see there why)."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path


def imports_of(path: Path, *, runtime_only: bool = False) -> set[str]:
    """Every module ``path`` imports (lazy ones inside functions too); with ``runtime_only``, not those
    under ``if TYPE_CHECKING:`` (annotations only, never loaded)."""
    tree = ast.parse(path.read_text())
    # A module that binds TYPE_CHECKING itself (``TYPE_CHECKING = True``) runs its block: not skipped.
    shadowed = any(
        isinstance(node, ast.Name) and node.id == "TYPE_CHECKING" and isinstance(node.ctx, ast.Store)
        for node in ast.walk(tree)
    )
    if runtime_only and not shadowed:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
                node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = absolute(path, node.module, node.level)
            if module:
                found.add(module)
                found |= {f"{module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Call) and _dynamic_import(node.func) and node.args:
            # importlib.import_module("momentsync.x") / __import__("momentsync.x"): a literal name is
            # an import like any other (a computed one cannot be followed).
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def _dynamic_import(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in {"import_module", "__import__"}


def absolute(path: Path, module: str | None, level: int) -> str | None:
    """The absolute name ``from <level dots><module> import ...`` means in ``path`` (a file of a
    package under shared/); None when it leaves the package tree."""
    if level == 0:
        return module
    parts = path.parent.parts
    if "momentsync" not in parts:
        return None
    package = list(parts[parts.index("momentsync") :])
    if level - 1 >= len(package):
        return None
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


def module_file(repo: Path, name: str) -> Path | None:
    relative = Path(*name.split("."))
    for candidate in (
        repo / "shared" / relative / "__init__.py",
        (repo / "shared" / relative).with_suffix(".py"),
    ):
        if candidate.exists():
            return candidate
    return None


def reached_from(repo: Path, entry_points: list[Path]) -> set[str]:
    reached: set[str] = set()
    todo = [name for path in entry_points for name in imports_of(path) if name.startswith("momentsync")]
    while todo:
        name = todo.pop()
        path = module_file(repo, name)
        if path is None or name in reached:
            continue
        reached.add(name)
        todo += [n for n in imports_of(path) if n.startswith("momentsync") and n not in reached]
    return reached


def main(repo: Path) -> dict[str, list[str]]:
    third_party = {
        name.split(".")[0]
        for path in (repo / "shared" / "momentsync").rglob("*.py")
        for name in imports_of(path)
        if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith("momentsync")
    }
    functions = sorted((repo / "functions").glob("*/app.py"))
    package = repo / "shared" / "momentsync"
    runtime_imports = {
        ".".join(("momentsync", *path.relative_to(package).with_suffix("").parts)).removesuffix(
            ".__init__"
        ): sorted(imports_of(path, runtime_only=True))
        for path in package.rglob("*.py")
    }
    return {
        "third_party": sorted(third_party),
        "reached_from_functions": sorted(reached_from(repo, functions)),
        "runtime_imports": runtime_imports,
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))  # noqa: T201 - the script's output is its result
