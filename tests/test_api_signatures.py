"""Wide entry points take their knobs by name, and the scan's knobs travel as one frozen ScanOptions (issue 20.4).

Twenty positional parameters let two swapped booleans go unnoticed; these tests fail the day a public function
grows a positional switch again, or the API stops handing the scan what it was asked.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Callable, Iterator

import pytest

from fieldlab import api
from fieldlab.evidence.image import UnlockOptions
from fieldlab.hashsets.library import HashSetLibrary
from fieldlab.triage.options import ScanOptions, SourceAccess, Workers
from fieldlab.web.server import Listening

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
MOST_POSITIONAL = 3
WALKED_PACKAGES = ("fieldlab.case", "fieldlab.hashsets", "fieldlab.ops", "fieldlab.report", "fieldlab.web")
WALKED_MODULES = ("fieldlab.api", "fieldlab.validation", "fieldlab.validation.record", "fieldlab.triage.scan",
                  "fieldlab.triage.cluster", "fieldlab.triage.prescan", "fieldlab.triage.options")
# Typer commands and FastAPI routes: their frameworks call them with keywords, never our code.
CALLED_BY_FRAMEWORK = ("fieldlab.ops.cli", "fieldlab.web.routes", "fieldlab.web.ops_routes", "fieldlab.web.ops_observer",
                       "fieldlab.web.public")


def _modules() -> list[str]:
    found = list(WALKED_MODULES)
    for package in WALKED_PACKAGES:
        found += [m.name for m in pkgutil.walk_packages(importlib.import_module(package).__path__, package + ".")]
    return [m for m in found if m not in CALLED_BY_FRAMEWORK]


def _public_functions() -> list[Callable]:
    functions: list[Callable] = [HashSetLibrary.import_file]
    for name in _modules():
        module = importlib.import_module(name)
        functions += [f for attribute, f in vars(module).items()
                      if inspect.isfunction(f) and f.__module__ == name and not attribute.startswith("_")]
    return functions


PUBLIC_FUNCTIONS = _public_functions()


def _positional(function: Callable) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(function).parameters.values() if p.kind in POSITIONAL and p.name != "self"]


@pytest.mark.parametrize("function", PUBLIC_FUNCTIONS, ids=lambda f: f"{f.__module__}.{f.__qualname__}")
def test_a_public_function_takes_at_most_three_arguments_by_position_and_no_switch(function: Callable) -> None:
    positional = _positional(function)
    assert len(positional) <= MOST_POSITIONAL, f"{function.__qualname__}: {[p.name for p in positional]}"
    switches = [p.name for p in positional if p.annotation in ("bool", "bool | None") or isinstance(p.default, bool)]
    assert switches == [], f"{function.__qualname__} takes a switch by position: {switches}"


def test_the_walk_finds_the_wide_entry_points() -> None:
    walked = {f"{f.__module__}.{f.__qualname__}" for f in PUBLIC_FUNCTIONS}
    assert {"fieldlab.api.scan", "fieldlab.triage.scan.scan_source", "fieldlab.hashsets.library.HashSetLibrary.import_file",
            "fieldlab.report.exports.export_case", "fieldlab.web.server.serve_operations", "fieldlab.validation.validate",
            "fieldlab.ops.targets.add_subscriber"} <= walked


@pytest.mark.parametrize("value", [ScanOptions(), Workers(), SourceAccess(), Listening()], ids=lambda v: type(v).__name__)
def test_option_objects_are_frozen(value: object) -> None:
    assert dataclasses.is_dataclass(value) and type(value).__dataclass_params__.frozen  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, dataclasses.fields(value)[0].name, None)


def test_api_scan_hands_every_switch_to_the_scan_by_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    handed: dict[str, object] = {}
    monkeypatch.setattr("fieldlab.triage.scan.scan_source", lambda source, case_dir, **kw: handed.update(kw))
    api.scan(tmp_path / "evidence", tmp_path / "case", exhibit_ref="EX9", hash_sets=["caid"], home=tmp_path / "home",
             sha256=True, workers=3, unlock=UnlockOptions(shadow_copies=True, archive_passwords=("old",)),
             verify=False, perceptual=True, pdq_radius=12, embedded=False, carve=False, passwords=["new", "old"],
             parents=[str(tmp_path / "parents")], second_copy=True, max_depth=2, classify=False)
    options = handed["options"]
    assert isinstance(options, ScanOptions)
    assert options == ScanOptions(
        hash_sets=("caid",), sha256=True, verify=False, perceptual=True, pdq_radius=12, embedded=False, carve=False,
        max_depth=2, classify=None, second_copy=True, workers=Workers(processes=3),
        access=SourceAccess(unlock=UnlockOptions(shadow_copies=True, archive_passwords=("old", "new")),
                            parents=(tmp_path / "parents",)),
    )
    assert handed["exhibit_ref"] == "EX9" and handed["library"].home == tmp_path / "home"


def test_api_scan_defaults_are_the_scan_options_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    handed: dict[str, object] = {}
    monkeypatch.setattr("fieldlab.triage.scan.scan_source", lambda source, case_dir, **kw: handed.update(kw))
    api.scan(tmp_path / "evidence", tmp_path / "case", classify=False)
    assert handed["options"] == ScanOptions()


def test_the_audit_record_counts_passwords_and_names_a_classifier_only_with_the_perceptual_stage() -> None:
    from fieldlab.detect.classify import ModelSpec

    model = ModelSpec(path="/m.onnx", name="stub", sha256="ab" * 32, licence="MIT", labels=("x",),
                      nudity=frozenset({"x"}), side=320)
    unlock = UnlockOptions(bitlocker_password="secret", shadow_copies=True, archive_passwords=("pw1", "pw2"))
    options = ScanOptions(sha256=True, pdq_radius=20, classify=model, access=SourceAccess(unlock=unlock))
    record = options.audit_record(exhibit="EX1", source="/e", kind="image", hash_sets=["caid@1"], cluster=None,
                                  parents=(), second_copy_of=None)
    assert record == {"exhibit": "EX1", "source": "/e", "kind": "image", "hash_sets": ["caid@1"], "sha256": True,
                      "shadow_copies": True, "perceptual": True, "pdq_radius": 20, "embedded": True, "carve": True,
                      "max_depth": options.max_depth, "archive_passwords": 2, "cluster": None,
                      "classify": {"model": "stub", "sha256": "ab" * 32}}
    assert "secret" not in repr(record) and "pw1" not in repr(record)
    without_decoding = dataclasses.replace(options, perceptual=False)
    assert without_decoding.classifier is None
    assert without_decoding.audit_record(exhibit="EX1", source="/e", kind="image", hash_sets=[], cluster="tcp://s:1",
                                         parents=("/p.vhd",), second_copy_of="EX0")["classify"] is None
    resolved = options.audit_record(exhibit="EX1", source="/e", kind="image", hash_sets=[], cluster="tcp://s:1",
                                    parents=("/p.vhd",), second_copy_of="EX0")
    assert (resolved["cluster"], resolved["parents"], resolved["second_copy_of"]) == ("tcp://s:1", ["/p.vhd"], "EX0")



def _module_of(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[1:] if parts[0] == "src" else parts).removesuffix(".__init__")


def _calls_resolved(path: Path, root: Path) -> Iterator[tuple[ast.Call, tuple[str, str]]]:
    """Each call in the file with the (module, function) its name is bound to there: a function defined in the file,
    one imported by name, or an attribute of an imported module (``api.scan``, ``fieldlab.scan``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module_of(path, root)
    bound = {n.name: (here, n.name) for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    modules = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                bound[alias.asname or alias.name] = (node.module, alias.name)
                modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                modules[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or any(isinstance(a, ast.Starred) for a in node.args):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in bound:
            yield node, bound[node.func.id]
        elif isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            module = modules.get(node.func.value.id)
            if module:
                yield node, ("fieldlab.api" if module == "fieldlab" else module, node.func.attr)


def test_no_call_in_the_repository_passes_a_keyword_only_argument_by_position() -> None:
    """The signature walk guards the definitions; this guards the calls, so a branch merged later that still passes
    ``add_subscriber(db, 7, "BT", ...)`` fails here rather than in front of an officer."""
    limits = {(f.__module__, f.__name__): len(_positional(f)) for f in PUBLIC_FUNCTIONS
              if any(p.kind == inspect.Parameter.KEYWORD_ONLY for p in inspect.signature(f).parameters.values())}
    root = Path(__file__).resolve().parents[1]
    too_many = [f"{path.relative_to(root)}:{call.lineno} {ast.unparse(call)[:100]}"
                for folder in ("src", "tests", "bench") for path in sorted((root / folder).rglob("*.py"))
                for call, target in _calls_resolved(path, root) if len(call.args) > limits.get(target, len(call.args))]
    assert too_many == []


def test_the_call_check_sees_calls_by_name_by_module_and_inside_the_defining_module(tmp_path: Path) -> None:
    source = tmp_path / "src" / "fieldlab" / "ops" / "example.py"
    source.parent.mkdir(parents=True)
    source.write_text("from fieldlab import api\nimport fieldlab\nfrom fieldlab.ops.targets import add_subscriber\n"
                      "def own(a, b): ...\nadd_subscriber(db, 1, 'BT')\napi.scan(s, c, 'EX1')\n"
                      "fieldlab.scan(s, c)\nown(1, 2)\n", encoding="utf-8")
    found = [(target, len(call.args)) for call, target in _calls_resolved(source, tmp_path)]
    assert found == [(("fieldlab.ops.targets", "add_subscriber"), 3), (("fieldlab.api", "scan"), 3),
                     (("fieldlab.api", "scan"), 2), (("fieldlab.ops.example", "own"), 2)]
