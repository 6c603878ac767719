"""Wide entry points take their knobs by name, and the scan's knobs travel as one frozen ScanOptions (issue 20.4).

Twenty positional parameters let two swapped booleans go unnoticed; these tests fail the day a public function
grows a positional switch again, or the API stops handing the scan what it was asked.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Callable

import pytest

from fieldlab import api
from fieldlab.evidence.image import UnlockOptions
from fieldlab.hashsets.blocks.build import build_block_set
from fieldlab.hashsets.library import HashSetLibrary
from fieldlab.hashsets.update import update_set
from fieldlab.report.document import build_report
from fieldlab.report.exports import export_case
from fieldlab.triage.cluster import open_work_pool
from fieldlab.triage.options import ScanOptions, SourceAccess, Workers
from fieldlab.triage.prescan import prescan
from fieldlab.triage.scan import scan_source
from fieldlab.validation import validate
from fieldlab.web.ops_app import create_ops_app
from fieldlab.web.server import Listening, serve, serve_operations

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
MOST_POSITIONAL = 3

API_FUNCTIONS = [f for name, f in vars(api).items()
                 if inspect.isfunction(f) and f.__module__ == api.__name__ and not name.startswith("_")]
ENTRY_POINTS = [scan_source, HashSetLibrary.import_file, update_set, build_block_set, prescan, build_report,
                export_case, serve, serve_operations, create_ops_app, validate, open_work_pool]


def _positional(function: Callable) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(function).parameters.values() if p.kind in POSITIONAL and p.name != "self"]


@pytest.mark.parametrize("function", API_FUNCTIONS + ENTRY_POINTS, ids=lambda f: f.__qualname__)
def test_a_wide_public_function_takes_at_most_three_arguments_by_position_and_no_switch(function: Callable) -> None:
    positional = _positional(function)
    assert len(positional) <= MOST_POSITIONAL, f"{function.__qualname__}: {[p.name for p in positional]}"
    switches = [p.name for p in positional if p.annotation in ("bool", "bool | None") or isinstance(p.default, bool)]
    assert switches == [], f"{function.__qualname__} takes a switch by position: {switches}"


def test_the_walk_finds_the_public_api() -> None:
    assert {"scan", "import_hashset", "report", "export_case", "prescan"} <= {f.__name__ for f in API_FUNCTIONS}


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
