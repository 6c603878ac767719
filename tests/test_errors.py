"""The one exception tree: every public error fieldlab raises is a FieldlabError, and the CLI's exit code comes from it."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import pytest

from fieldlab import errors
from fieldlab.errors import CaseError, EvidenceError, FieldlabError, HashSetError, OpsError, exit_code, message

SRC = Path(__file__).resolve().parents[1] / "src" / "fieldlab"
BUILTIN_EXCEPTIONS = {name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)}
TREE = {name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, FieldlabError)}


def _base_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def test_every_public_exception_class_of_src_is_on_the_tree() -> None:
    """A public class deriving straight from a builtin exception must also derive from the tree; private control-flow
    signals (``_BudgetSpent``) never leave their module and are exempt."""
    outside = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ClassDef) or node.name.startswith("_") or node.name == "FieldlabError":
                continue
            bases = {_base_name(base) for base in node.bases}
            if bases & BUILTIN_EXCEPTIONS and not bases & TREE:
                outside.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    assert outside == []


def test_layer_errors_keep_the_bases_callers_catch() -> None:
    from fieldlab.evidence.archives import ArchiveError
    from fieldlab.evidence.phone.android_backup import AndroidBackupError
    from fieldlab.hashsets.library import HashSetError as LibraryHashSetError
    from fieldlab.locator import LocatorError
    from fieldlab.ops.areas import AreaError

    assert issubclass(AndroidBackupError, ArchiveError) and issubclass(ArchiveError, EvidenceError)
    assert LibraryHashSetError is HashSetError
    assert issubclass(LocatorError, FieldlabError) and issubclass(LocatorError, ValueError)
    assert issubclass(AreaError, OpsError) and issubclass(AreaError, ValueError)


@pytest.mark.parametrize("error", [CaseError("case folder in use"), HashSetError("no such set"), EvidenceError("gone")])
def test_a_refused_request_exits_2_with_its_own_words(error: FieldlabError) -> None:
    assert exit_code(error) == 2
    assert message(error) == str(error)


def test_an_error_outside_the_tree_is_a_fault_not_a_refusal() -> None:
    assert exit_code(ValueError("bug")) == 1
    assert message(CaseError()) == "CaseError"


def test_the_command_line_ends_any_unhandled_error_of_the_tree_with_its_words_and_exit_code() -> None:
    import typer
    from typer.testing import CliRunner

    from fieldlab.cli.help import HumanGroup
    from fieldlab.errors import CaseError

    app = typer.Typer(cls=HumanGroup)

    @app.command()
    def refuse() -> None:
        raise CaseError("the case folder is locked by another scan")

    @app.command()
    def crash() -> None:
        raise KeyError("a fault of fieldlab")

    refused = CliRunner().invoke(app, ["refuse"])
    assert refused.exit_code == 2 and "the case folder is locked by another scan" in refused.output
    assert refused.exception is None or isinstance(refused.exception, SystemExit)
    crashed = CliRunner().invoke(app, ["crash"])
    assert isinstance(crashed.exception, KeyError)  # not disguised as a refusal
