"""Wide entry points take their knobs by name, and the scan's knobs travel as one frozen ScanOptions (issue 20.4).

Twenty positional parameters let two swapped booleans go unnoticed; these tests fail the day a public function
grows a positional switch again, or the API stops handing the scan what it was asked.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Callable

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
