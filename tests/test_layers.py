"""Layers point one way: what reads evidence (evidence/, detect/ and the scan's worker modules) never reaches the case,
the outputs or the review app.  A worker that imported case/ would pay SQLAlchemy in every process and could write
where only the scan's single writer may; the test reads imports with ``ast`` so nothing is imported to check it."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "fieldlab"
WORKER_MODULES = (
    "fieldlab.triage.reader", "fieldlab.triage.perceive", "fieldlab.triage.media_pool", "fieldlab.triage.unallocated",
)
READING_PACKAGES = ("fieldlab.evidence", "fieldlab.detect")
DOWNSTREAM = ("fieldlab.case", "fieldlab.report", "fieldlab.web")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


@cache
def imported_by(module: str) -> frozenset[str]:
    """The fieldlab modules one module imports anywhere in it (module level and inside functions)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in MODULES)
    return frozenset(found)


def reachable_from(start: str) -> dict[str, str]:
    """Every fieldlab module ``start`` loads, directly or through others, each with the module that imports it."""
    via: dict[str, str] = {}
    todo = [start]
    while todo:
        module = todo.pop()
        for name in imported_by(module):
            # importing a.b.c runs a/__init__ and a/b/__init__ too
            for parent in (".".join(name.split(".")[:i]) for i in range(2, name.count(".") + 2)):
                if parent in MODULES and parent not in via and parent != start:
                    via[parent] = module
                    todo.append(parent)
    return via


def _path(via: dict[str, str], start: str, end: str) -> str:
    chain = [end]
    while chain[-1] != start and chain[-1] in via:
        chain.append(via[chain[-1]])
    return " <- ".join(chain)


def test_the_import_reader_follows_relative_and_function_level_imports() -> None:
    assert "fieldlab.case.store" in imported_by("fieldlab.triage.scan")
    assert "fieldlab.hashsets.formats" in imported_by("fieldlab.hashsets.library")
    assert "fieldlab.evidence.item" in reachable_from("fieldlab.triage.reader")


def test_evidence_detect_and_workers_never_reach_case_report_or_web() -> None:
    starts = [m for m in MODULES if _within(m, READING_PACKAGES)] + list(WORKER_MODULES)
    leaks = []
    for start in sorted(starts):
        via = reachable_from(start)
        leaks += [_path(via, start, module) for module in sorted(via) if _within(module, DOWNSTREAM)]
    assert leaks == []


def test_the_scan_never_reaches_the_outputs_or_the_review_app() -> None:
    """triage/ records into the case; drawing the live verdict needs no report module."""
    leaks = []
    for start in sorted(m for m in MODULES if _within(m, ("fieldlab.triage",))):
        via = reachable_from(start)
        leaks += [_path(via, start, module) for module in sorted(via) if _within(module, ("fieldlab.report", "fieldlab.web"))]
    assert leaks == []


# ops/schema.py copies the accounts, sessions and audit tables' definitions from the case's, so the one accounts
# module (case/accounts.py, web/accounts.py) serves a case and the operations database alike: a definition shared,
# not a query of a case.
SCHEMA_READERS_OUTSIDE_CASE = {"fieldlab.ops.schema"}


def test_only_case_queries_the_case_tables() -> None:
    """Outside case/, a module asks case/ a question and gets typed rows back; it never builds a query on the tables,
    so a change of the schema is a change in one package."""
    readers = {module for module in MODULES if "fieldlab.case.schema" in imported_by(module)}
    assert {m for m in readers if not _within(m, ("fieldlab.case",))} == SCHEMA_READERS_OUTSIDE_CASE


def test_detection_never_depends_on_the_phone_parsers() -> None:
    """detect/ compares pictures with what phones say about themselves (``fieldlab.device``) without loading the
    parsers of phone extractions."""
    leaks = []
    for start in sorted(m for m in MODULES if _within(m, ("fieldlab.detect",))):
        via = reachable_from(start)
        leaks += [_path(via, start, module) for module in sorted(via) if _within(module, ("fieldlab.evidence.phone",))]
    assert leaks == []
