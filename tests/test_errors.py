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


CLI = SRC / "cli"


def _caught(handler: ast.ExceptHandler) -> set[str]:
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type] if handler.type else []
    return {_base_name(t) for t in types}


def test_the_command_line_never_catches_a_bare_value_error() -> None:
    """A ValueError escaping a command is a fault of fieldlab and keeps its traceback: refusals are tree errors."""
    broad = [f"{path.relative_to(SRC)}:{node.lineno}" for path in CLI.rglob("*.py")
             for node in ast.walk(ast.parse(path.read_text(), str(path)))
             if isinstance(node, ast.ExceptHandler) and _caught(node) & {"ValueError", "Exception", "BaseException"}]
    assert broad == []


def test_the_check_for_bare_value_errors_sees_one_in_a_tuple() -> None:
    (handler,) = [n for n in ast.walk(ast.parse("try:\n    pass\nexcept (OSError, ValueError):\n    pass"))
                  if isinstance(n, ast.ExceptHandler)]
    assert _caught(handler) == {"OSError", "ValueError"}


def _refused(args: list[str]) -> str:
    """The command's output, after checking it ended as a refusal (exit 2, no traceback), not as a fault."""
    from typer.testing import CliRunner

    from fieldlab.cli import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def test_a_file_that_is_no_hash_set_is_refused_with_what_was_found(tmp_path: Path) -> None:
    mystery = tmp_path / "mystery.txt"
    mystery.write_text("hello examiner\nthis is a letter\n")
    output = _refused(["hashset", "import", str(mystery), "--home", str(tmp_path / "lib")])
    assert "mystery.txt: unknown hash-set format: the first line 'hello examiner'" in output


def test_a_hash_list_said_to_be_another_format_is_refused(tmp_path: Path) -> None:
    listed = tmp_path / "list.md5"
    listed.write_text("d41d8cd98f00b204e9800998ecf8427e  empty.jpg\n")
    output = _refused(["hashset", "import", str(listed), "--format", "encase", "--home", str(tmp_path / "lib")])
    assert "list.md5: not an EnCase hash set" in output


def test_a_mapping_file_that_is_not_json_is_refused_naming_it(tmp_path: Path) -> None:
    listed = tmp_path / "list.md5"
    listed.write_text("d41d8cd98f00b204e9800998ecf8427e  empty.jpg\n")
    mapping = tmp_path / "codes.json"
    mapping.write_bytes(b"\xff\xfe not json")
    output = _refused(["hashset", "import", str(listed), "--mapping", str(mapping), "--home", str(tmp_path / "lib")])
    assert "codes.json: not a JSON mapping file" in output


def test_an_unknown_problem_kind_is_refused_listing_the_kinds(tmp_path: Path) -> None:
    output = _refused(["errors", str(tmp_path), "--kind", "gremlins"])
    assert "no problem kind 'gremlins': choose one of unreadable, damaged" in output


def test_a_prescan_without_a_block_set_is_refused_saying_how_to_build_one(tmp_path: Path) -> None:
    image = tmp_path / "disk.raw"
    image.write_bytes(bytes(1 << 20))
    output = _refused(["prescan", str(image), "--home", str(tmp_path / "lib")])
    assert "fieldlab hashset blocks FOLDER --name NAME" in output


def test_option_and_hash_file_errors_are_tree_errors_that_callers_may_still_catch_as_value_errors() -> None:
    from fieldlab.errors import OptionError
    from fieldlab.hashsets.profiles import ProfileError
    from fieldlab.hashsets.records import HashSetFileError
    from fieldlab.problems import parse_kind

    for error in (OptionError, ProfileError, HashSetFileError):
        assert issubclass(error, FieldlabError) and issubclass(error, ValueError)
    assert issubclass(ProfileError, HashSetError) and issubclass(HashSetFileError, HashSetError)
    with pytest.raises(OptionError) as caught:
        parse_kind("gremlins")
    assert exit_code(caught.value) == 2


def test_a_categories_file_that_is_not_text_is_refused_naming_it(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "known.bin").write_bytes(bytes(range(256)) * 64)
    categories = tmp_path / "categories.csv"
    categories.write_bytes(b"\xff\xfe\x00binary")
    output = _refused(["hashset", "blocks", str(reference), "--name", "known", "--categories", str(categories),
                       "--home", str(tmp_path / "lib")])
    assert "categories.csv: not a UTF-8 CSV of 'relative path,category'" in output
