"""The repository stands on its own: every note a comment or a page cites is in it, under the path given,
and has the section cited; the README stays a short front page without paths of a developer's machine."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
THIS_FILE = Path(__file__).resolve()
CODE_ROOTS = (
    "shared",
    "functions",
    "local",
    "emulators",
    "bench",
    "chaos",
    "audit",
    "tests",
    "contracts",
    "edge",
)
CODE_FILES_AT_ROOT = ("template.yaml", "Makefile", "pyproject.toml", "samconfig.toml")
CODE_SUFFIXES = {".py", ".yaml", ".yml", ".toml", ".md", ".cfg", ".sh"}
SKIPPED_DIRS = {".venv", "__pycache__", ".local-stack", "node_modules", "artifacts"}
# Folders at the repository root a page may name a file in by its repository path.
ROOT_FOLDERS = (
    "docs/",
    "emulators/",
    "shared/",
    "tests/",
    "bench/",
    "chaos/",
    "local/",
    "functions/",
    "edge/",
)

# A file name ending in .md, not glued to a longer path or a URL on its left.
MD_PATH = re.compile(r"(?<![\w./:-])((?:\.\./)*[\w./-]*[\w-]\.md)\b")
# A citation of a section: `docs/reference/fiken.md §3.6`, `fiken.md` §2, §7, `anchors.md §3.5–3.6`.
SECTION_CITATION = re.compile(
    r"(?<![\w./:-])((?:\.\./)*[\w./-]*[\w-]\.md)`?\s*((?:§\s*\d+(?:\.\d+)*)(?:\s*(?:,|and|–|-)\s*§?\s*\d+(?:\.\d+)*)*)"
)
FENCED_BLOCK = re.compile(r"```.*?```", re.S)
MARKDOWN_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
HEADING_NUMBER = re.compile(r"^#{2,4}\s+(\d+(?:\.\d+)*)\.?\s", re.M)


def _files(roots: tuple[str, ...], suffixes: set[str]) -> list[Path]:
    found = []
    for root in roots:
        for path in (REPO / root).rglob("*"):
            if path.is_file() and path.suffix in suffixes and not SKIPPED_DIRS & set(path.parts):
                found.append(path)
    return found


def code_files() -> list[Path]:
    files = _files(CODE_ROOTS, CODE_SUFFIXES) + [REPO / name for name in CODE_FILES_AT_ROOT]
    return [f for f in files if f.exists() and f.resolve() != THIS_FILE]


def doc_pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def prose(path: Path) -> str:
    """A page without its fenced blocks: recorded output (a benchmark table) quotes, it does not cite."""
    text = path.read_text(encoding="utf-8")
    return FENCED_BLOCK.sub("", text) if path.suffix == ".md" else text


def resolve(cited: str, citing: Path) -> Path:
    """Repository paths from the root; in a page, any other name relative to the page's folder."""
    if cited.startswith(ROOT_FOLDERS) or cited == "README.md" or citing.suffix != ".md":
        return REPO / cited
    return (citing.parent / cited).resolve()


def where(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_every_note_cited_in_code_is_in_the_repository_under_its_repository_path():
    missing = []
    for path in code_files():
        for match in MD_PATH.finditer(prose(path)):
            cited = match.group(1)
            if path.suffix == ".md" and not cited.startswith(ROOT_FOLDERS):
                continue  # a page next to code (an emulator's README) may cite by relative name: next test
            if not (REPO / cited).is_file():
                missing.append(
                    f"{where(path)}: {cited} (cite it as docs/reference/<note>.md, and write the note)"
                )
    assert missing == []


def test_every_page_cited_in_the_docs_exists():
    pages = doc_pages() + sorted((REPO / "emulators").rglob("README.md"))
    missing = []
    for page in pages:
        text = prose(page)
        for match in MARKDOWN_LINK.finditer(text):
            target = match.group(1)
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                missing.append(f"{where(page)}: link {target}")
        for match in MD_PATH.finditer(MARKDOWN_LINK.sub("]", text)):
            if not resolve(match.group(1), page).is_file():
                missing.append(f"{where(page)}: {match.group(1)}")
    assert missing == []


def test_every_cited_section_of_a_reference_note_exists():
    wrong = []
    for path in code_files() + doc_pages():
        for match in SECTION_CITATION.finditer(prose(path)):
            note = resolve(match.group(1), path)
            if not note.is_file() or "reference" not in note.parts:
                continue  # a missing note is the tests above; sections are checked in reference notes
            sections = set(HEADING_NUMBER.findall(note.read_text(encoding="utf-8")))
            for number in re.findall(r"\d+(?:\.\d+)*", match.group(2)):
                if number not in sections:
                    wrong.append(
                        f"{where(path)}: {match.group(1)} §{number} (no such heading in {where(note)})"
                    )
    assert wrong == []


def test_every_reference_note_says_where_its_facts_come_from():
    unsourced = [
        where(note)
        for note in sorted((REPO / "docs" / "reference").glob("*.md"))
        if not re.search(r"\bsources?\b|https://|\[(?:DOC|OBS|SPEC|doc|code|issue)\b", note.read_text(), re.I)
    ]
    assert unsourced == []


def test_the_readme_stays_a_short_front_page_without_paths_of_a_developers_machine():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 160
    assert re.findall(r"(?<![\w.])/(?:work|home|Users|tmp)/\S*", readme) == []
    for target in ("docs/README.md", "docs/architecture.md", "docs/operations.md", "docs/exactly-once.md"):
        assert f"]({target})" in readme, f"the README links {target}"


# `shared/momentsync/sync/invoices.py`, `tests/integration/test_sync_invoices.py::test_x`, `bench/run.py`
FILE_IN_REPO = re.compile(
    r"`((?:shared|functions|local|emulators|bench|chaos|tests|contracts|audit|events|edge)/[\w./-]+?)/?(?:::(\w+))?`"
)
MODULE_PATH = re.compile(r"`(momentsync(?:\.\w+)+)")


def _defines(source: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+def|def|class)\s+{name}\b|^{name}\s*[:=]", source, re.M) is not None


def module_path_exists(dotted: str) -> bool:
    """`momentsync.sync.invoices.sync_invoice` names a module of the layer, then what it defines."""
    parts = dotted.split(".")
    base = REPO / "shared"
    for cut in range(len(parts), 0, -1):
        stem = base.joinpath(*parts[:cut])
        module = stem.with_suffix(".py") if stem.with_suffix(".py").is_file() else stem / "__init__.py"
        if module.is_file():
            source = module.read_text(encoding="utf-8")
            return all(_defines(source, name) for name in parts[cut:])
    return False


def test_every_file_test_and_module_a_page_names_exists():
    """The docs name modules, files and tests as the path of an event and as proof: a rename must
    take the page along."""
    stale = []
    for page in doc_pages():
        text = prose(page)
        for match in FILE_IN_REPO.finditer(text):
            path, test = REPO / match.group(1), match.group(2)
            if any(mark in match.group(1) for mark in ("*", "{", "…")) or "artifacts" in path.parts:
                continue  # a pattern, or what a test run writes (git-ignored)
            if not path.exists():
                stale.append(f"{where(page)}: {match.group(1)}")
            elif test and not _defines(path.read_text(encoding="utf-8"), test):
                stale.append(f"{where(page)}: {match.group(1)}::{test}")
        for match in MODULE_PATH.finditer(text):
            if not module_path_exists(match.group(1)):
                stale.append(f"{where(page)}: {match.group(1)}")
    assert stale == []


def test_every_page_of_the_docs_is_in_the_index():
    index = (REPO / "docs" / "README.md").read_text(encoding="utf-8")
    linked = {(REPO / "docs" / target).resolve() for target in MARKDOWN_LINK.findall(index)}
    pages = [p for p in (REPO / "docs").rglob("*.md") if p.name != "README.md" or p.parent != REPO / "docs"]
    assert [where(p) for p in sorted(pages) if p.resolve() not in linked] == []
