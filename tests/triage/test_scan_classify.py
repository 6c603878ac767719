"""The classifier stage in a scan: it orders the review queue, shows on the item page, is named in the report, and
decides nothing.  Pictures are generated; the model is a stub of the documented contract
(tests/detect/classifier_builders.py: red = nudity, green = a person, blue = nothing)."""

from __future__ import annotations

import contextlib
import io
import re
import sqlite3
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from fieldlab import api
from fieldlab.case.queries import exhibit_counts
from fieldlab.case.store import CaseStore
from fieldlab.cli import app
from fieldlab.demo import procedural_jpeg
from fieldlab.detect.classify import describe_model
from fieldlab.detect.perceptual import image_pdq, pdq_hex
from fieldlab.evidence.sources import describe_source
from fieldlab.hashsets.library import HashSetLibrary
from fieldlab.problems import ProblemKind
from fieldlab.report.charging import charging_table
from fieldlab.report.document import build_report
from fieldlab.report.render import render_html
from fieldlab.triage.classify_pool import AGAIN, TIMED_OUT, ToClassify, classify_batch
from fieldlab.triage.perceive import MediaTask, perceive_batch
from fieldlab.triage.scan import ScanResult
from fieldlab.web import WebConfig, create_app
from fieldlab.web.accounts import add_user
from fieldlab.web.review import ReviewIndex
from tests.builders import KnownFile, write_csv_hashset, write_tree
from tests.detect.classifier_builders import write_stub_model
from tests.web.web_case import login

NEAR_SOURCE = procedural_jpeg(901, 480, 480)


def _solid(rgb: tuple[int, int, int], seed: int) -> bytes:
    """A square picture of one colour with a little noise (so copies differ)."""
    pixels = np.clip(np.full((256, 256, 3), rgb, np.int16) + np.random.default_rng(seed).integers(-8, 8, (256, 256, 3)),
                     0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def _resized_jpeg(jpeg: bytes, side: int) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).resize((side, side)).save(out, "JPEG", quality=70)
    return out.getvalue()


FILES = {
    "Users/alex/Pictures/red.png": _solid((255, 0, 0), 1),
    "Users/alex/Pictures/green.png": _solid((0, 255, 0), 2),
    "Users/alex/Pictures/blue.png": _solid((0, 0, 255), 3),
    "Users/alex/AppData/Local/Temp/cache/red_in_cache.png": _solid((250, 10, 10), 4),
    "Users/alex/Downloads/near.jpg": _resized_jpeg(NEAR_SOURCE, 300),
    "Users/alex/Pictures/known.png": _solid((255, 0, 0), 5),
}


def _evidence(root: Path) -> tuple[Path, Path, Path]:
    """Evidence, a hash-set home holding a known picture (exact) and the near source (PDQ), and a stub model."""
    evidence, home = root / "evidence", root / "home"
    write_tree(evidence, FILES)
    known = [KnownFile("Users/alex/Pictures/known.png", FILES["Users/alex/Pictures/known.png"], "A")]
    api.import_hashset(write_csv_hashset(root / "known.csv", known), name="known", home=home)
    (root / "near.pdq").write_text(f"pdq {pdq_hex(image_pdq(io.BytesIO(NEAR_SOURCE)).pdq)}\n")
    api.import_hashset(root / "near.pdq", name="near", category="B", home=home)
    return evidence, home, write_stub_model(root / "force-model.onnx")


@pytest.fixture(scope="module")
def classified_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Path]:
    root = tmp_path_factory.mktemp("classify")
    evidence, home, model = _evidence(root)
    api.scan(evidence, root / "case", exhibit_ref="EX1", home=home, workers=1, classify_model=model)
    return root / "case", evidence, home, model


def _ids(case: Path) -> dict[str, int]:
    with sqlite3.connect(case / "case.sqlite") as db:
        return {path: i for path, i in db.execute("SELECT path, id FROM items")}


def _rows(case: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(case / "case.sqlite") as db:
        return db.execute(sql).fetchall()


def test_each_picture_is_classified_with_the_force_model_after_its_pdq(classified_case) -> None:
    case, _, _, model = classified_case
    ids = _ids(case)
    scores = {i: (score, nudity) for i, score, nudity in _rows(case, "SELECT item_id, score, nudity FROM classifications")}
    assert scores[ids["Users/alex/Pictures/red.png"]][1] > 0.9
    assert scores[ids["Users/alex/Pictures/green.png"]] == (pytest.approx(0.25, abs=0.01), 0.0)
    assert scores[ids["Users/alex/Pictures/blue.png"]] == (0.0, 0.0)
    labels = dict(_rows(case, "SELECT item_id, label FROM detections"))
    assert labels[ids["Users/alex/Pictures/red.png"]] == "NUDITY_TEST"
    assert ids["Users/alex/Pictures/blue.png"] not in labels
    ((name, sha256, licence),) = _rows(case, "SELECT name, sha256, licence FROM classifier_models")
    assert name == "force-model.onnx" and sha256 == describe_model(model).sha256 and licence.startswith("test stub")
    assert _rows(case, "SELECT count(*) FROM media WHERE pdq IS NOT NULL") == [(len(FILES),)]  # hashes all stand


def test_the_queue_orders_unknowns_by_score_within_tiers_and_near_matches_stay_first(classified_case) -> None:
    case, *_ = classified_case
    ids = _ids(case)
    store = CaseStore.open(case, create=False)
    try:
        index = ReviewIndex(store, "uk").fresh()
        order = [index.contents[k].item_id for k in index.unknown]
    finally:
        store.close()
    assert order == [ids[p] for p in ("Users/alex/Downloads/near.jpg", "Users/alex/Pictures/red.png",
                                      "Users/alex/Pictures/green.png", "Users/alex/Pictures/blue.png",
                                      "Users/alex/AppData/Local/Temp/cache/red_in_cache.png")]


@pytest.fixture()
def client(classified_case, tmp_path: Path) -> TestClient:
    import shutil

    case = tmp_path / "case"
    shutil.copytree(classified_case[0], case)
    store = CaseStore.open(case, create=False)
    add_user(store, "examiner1", "examiner", password="examiner-password-1", actor="test setup")
    store.close()
    with TestClient(create_app(case, WebConfig())) as opened:
        assert login(opened, "examiner1", "examiner-password-1").status_code == 303
        yield opened


def _tiles(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="tile[^"]*"[^>]*data-item="(\d+)"', page)]


def test_the_likely_nudity_filter_and_the_item_page_say_indicative_automatic(client, classified_case) -> None:
    ids = _ids(classified_case[0])
    everything = client.get("/gallery").text
    assert "Likely nudity (indicative, automatic)" in everything and len(_tiles(everything)) == 5
    nudity = client.get("/gallery?nudity=true").text
    assert _tiles(nudity) == [ids["Users/alex/Pictures/red.png"],
                              ids["Users/alex/AppData/Local/Temp/cache/red_in_cache.png"]]
    item = client.get(f"/item/{ids['Users/alex/Pictures/red.png']}").text
    assert "Classifier (indicative, automatic)" in item and "NUDITY_TEST" in item and "Likely nudity" in item
    assert "force-model.onnx" in item and "not a categorisation" in item
    green = client.get(f"/item/{ids['Users/alex/Pictures/green.png']}").text
    assert "FACE_TEST" in green and "Likely nudity." not in green


def test_the_report_names_the_model_its_hash_and_licence_and_that_it_only_ordered_the_review(classified_case) -> None:
    case, _, home, model = classified_case
    store = CaseStore.open(case, create=False)
    try:
        html = render_html(build_report(store, library=HashSetLibrary(home)))
    finally:
        store.close()
    section = html[html.index("Review ordering (classifier)"):]
    assert "force-model.onnx" in section and describe_model(model).sha256 in section
    assert "test stub, no licence needed" in section
    assert "It only ordered the review: its score changed no category, no count" in " ".join(section.split())
    assert re.search(r"Pictures and videos classified</th><td>6<", section)


def test_the_score_changes_no_category_count_or_charging_line(classified_case, tmp_path: Path) -> None:
    case, evidence, home, _ = classified_case
    api.scan(evidence, tmp_path / "plain", exhibit_ref="EX1", home=home, workers=1, classify=False)
    stores = [CaseStore.open(c, create=False) for c in (case, tmp_path / "plain")]
    try:
        tables = [charging_table(s, "uk") for s in stores]
        counts = [exhibit_counts(s, 1) for s in stores]
        hits = [sorted(r[1:] for r in s.engine.connect().exec_driver_sql(
            "SELECT item_id, hash_set, category, method, distance FROM hits").all()) for s in stores]
    finally:
        for s in stores:
            s.close()
    assert tables[0].rows == tables[1].rows and tables[0].rows  # a known picture is counted, the same either way
    assert [c.hits_by_category for c in counts[0]] == [c.hits_by_category for c in counts[1]]
    assert hits[0] == hits[1]


def test_no_classify_runs_no_model_and_the_default_is_nudenets_model(tmp_path: Path) -> None:
    evidence, home, _ = _evidence(tmp_path)
    result = CliRunner().invoke(app, ["scan", str(evidence), "--case", str(tmp_path / "off"), "--no-classify",
                                      "--no-live", "--workers", "1", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert _rows(tmp_path / "off", "SELECT count(*) FROM classifications") == [(0,)]
    assert _rows(tmp_path / "off", "SELECT count(*) FROM classifier_models") == [(0,)]
    assert _rows(tmp_path / "off", "SELECT count(*) FROM media") == [(len(FILES),)]
    api.scan(evidence, tmp_path / "on", home=home, workers=1)  # the extra is installed here: on by default
    ((name, licence),) = _rows(tmp_path / "on", "SELECT name, licence FROM classifier_models")
    assert name.startswith("NudeNet 320n") and "AGPL-3.0" in licence and "MIT" in licence
    assert _rows(tmp_path / "on", "SELECT count(*) FROM classifications") == [(len(FILES),)]


def test_a_model_the_workers_cannot_load_is_a_problem_of_each_picture_and_the_scan_goes_on(tmp_path: Path) -> None:
    evidence, home, model = _evidence(tmp_path)
    spec = describe_model(model)
    broken = tmp_path / "replaced.onnx"
    broken.write_bytes(b"not an onnx model")
    from fieldlab.triage.options import ScanOptions, Workers
    from fieldlab.triage.scan import scan_source

    options = ScanOptions(classify=replace(spec, path=str(broken)), workers=Workers(processes=1))
    result = scan_source(evidence, tmp_path / "case", options=options, library=HashSetLibrary(home))
    assert not result.interrupted and result.progress.media_decoded == len(FILES)
    problems = _rows(tmp_path / "case", "SELECT stage, kind, message FROM errors")
    assert len(problems) == len(FILES) and {(stage, kind) for stage, kind, _ in problems} == {("classify", "unsupported")}
    assert all(m.startswith("not classified: the model replaced.onnx cannot be loaded") for *_, m in problems)
    assert _rows(tmp_path / "case", "SELECT count(*) FROM media WHERE pdq IS NOT NULL") == [(len(FILES),)]
    assert len(_rows(tmp_path / "case", "SELECT DISTINCT item_id, hash_set FROM hits")) == 2  # exact and near hits stand


def test_a_model_that_fails_on_one_picture_is_that_pictures_problem(tmp_path: Path) -> None:
    evidence, home, _ = _evidence(tmp_path)
    model = write_stub_model(tmp_path / "crashes-on-blue.onnx", crash_on_blue=True)
    api.scan(evidence, tmp_path / "case", home=home, workers=1, classify_model=model)
    ids = _ids(tmp_path / "case")
    ((item_id, stage, kind, message),) = _rows(tmp_path / "case", "SELECT item_id, stage, kind, message FROM errors")
    assert (item_id, stage, kind) == (ids["Users/alex/Pictures/blue.png"], "classify", "internal")
    assert "the model failed on this picture" in message
    assert _rows(tmp_path / "case", "SELECT count(*) FROM classifications") == [(len(FILES) - 1,)]
    spec, blue = describe_source(evidence), ids["Users/alex/Pictures/blue.png"]
    (result,) = perceive_batch(spec, [MediaTask(blue, "file:Users/alex/Pictures/blue.png", "image", 0)],
                               describe_model(model))  # in this process too: the picture keeps its hash
    assert result.pdq and result.for_classifier
    red = [ToClassify(item_id, "", r.for_classifier) for item_id, r in enumerate(
        perceive_batch(spec, [MediaTask(0, "file:Users/alex/Pictures/red.png", "image", 0)], describe_model(model)))]
    found = dict(classify_batch(spec, describe_model(model), [*red, ToClassify(blue, "", result.for_classifier)]))
    assert found[blue].problem.kind is ProblemKind.INTERNAL and found[0].found.nudity > 0.9  # its batch still classified


def test_a_case_from_before_the_stage_opens_in_the_review_app_and_the_report(classified_case, tmp_path: Path) -> None:
    import shutil

    case = tmp_path / "old"
    shutil.copytree(classified_case[0], case)
    with sqlite3.connect(case / "case.sqlite") as db:
        for table in ("detections", "classifications", "classifier_models"):
            db.execute(f"DROP TABLE {table}")
    store = CaseStore.open(case, create=False)
    try:
        add_user(store, "examiner1", "examiner", password="examiner-password-1", actor="test setup")
        index = ReviewIndex(store, "uk").fresh()
        assert len(index.unknown) == 5
        assert "Review ordering" not in render_html(build_report(store, library=HashSetLibrary(classified_case[2])))
    finally:
        store.close()
    with TestClient(create_app(case, WebConfig())) as client:
        login(client, "examiner1", "examiner-password-1")
        assert client.get(f"/item/{_ids(case)['Users/alex/Pictures/red.png']}").status_code == 200


def test_each_picture_is_hashed_and_its_near_match_recorded_before_it_is_classified(tmp_path: Path, monkeypatch) -> None:
    evidence, home, model = _evidence(tmp_path)
    seen: dict[int, tuple[bool, bool]] = {}  # item -> (hashed, near hit recorded) when its classification came back
    record = CaseStore.record_classified

    def checked(self: CaseStore, exhibit_id: int, found: list, paths: dict[int, str], **more: Any) -> Counter:
        with self.engine.connect() as conn:
            hashed = {i for (i,) in conn.exec_driver_sql("SELECT item_id FROM media WHERE pdq IS NOT NULL")}
            near = {i for (i,) in conn.exec_driver_sql("SELECT item_id FROM hits WHERE hash_set = 'near'")}
        seen.update((i, (i in hashed, i in near)) for i, _ in found)
        return record(self, exhibit_id, found, paths, **more)

    monkeypatch.setattr(CaseStore, "record_classified", checked)
    api.scan(evidence, tmp_path / "case", home=home, workers=1, classify_model=model)
    assert len(seen) == len(FILES) and all(hashed for hashed, _ in seen.values())
    assert seen[_ids(tmp_path / "case")["Users/alex/Downloads/near.jpg"]] == (True, True)


def _scores_by_path(case: Path) -> dict[str, tuple[float, float]]:
    return {path: (round(score, 5), round(nudity, 5)) for path, score, nudity in _rows(
        case, "SELECT path, score, nudity FROM classifications JOIN items ON items.id = item_id")}


def test_pictures_decoded_with_the_stage_off_are_classified_when_the_scan_runs_again_with_it(
        classified_case, tmp_path: Path) -> None:
    _, evidence, home, model = classified_case
    case = tmp_path / "case"
    api.scan(evidence, case, exhibit_ref="EX1", home=home, workers=1, classify=False)
    hashed = _rows(case, "SELECT item_id, pdq FROM media ORDER BY item_id")
    assert _rows(case, "SELECT count(*) FROM classifications") == [(0,)]
    api.scan(evidence, case, exhibit_ref="EX1", home=home, workers=1, classify_model=model)
    assert _scores_by_path(case) == _scores_by_path(classified_case[0])  # as if classified during the first scan
    assert _rows(case, "SELECT item_id, pdq FROM media ORDER BY item_id") == hashed
    api.scan(evidence, case, exhibit_ref="EX1", home=home, workers=1, classify_model=model)  # nothing left: no change
    assert _rows(case, "SELECT count(*) FROM detections") == _rows(classified_case[0], "SELECT count(*) FROM detections")


def test_pictures_beyond_the_classifier_queue_are_decoded_again_at_the_end_and_classified_the_same(
        classified_case, tmp_path: Path, monkeypatch) -> None:
    from fieldlab.triage import classify_pool

    _, evidence, home, model = classified_case
    monkeypatch.setattr(classify_pool, "MAX_QUEUED_BYTES", 0)  # the queue is always full
    api.scan(evidence, tmp_path / "case", home=home, workers=1, classify_model=model)
    assert _scores_by_path(tmp_path / "case") == _scores_by_path(classified_case[0])


def _video_of(colours: list[tuple[int, int, int]], path: Path) -> Path:
    """One second per colour, with noise that changes every second (so vPDQ keeps a frame of each)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for second, rgb in enumerate(colours):
            noise = np.random.default_rng(second).integers(-40, 40, (120, 160, 3))
            frame = np.clip(np.full((120, 160, 3), rgb, np.int16) + noise, 0, 255).astype(np.uint8)
            for _ in range(5):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_a_video_is_scored_by_its_strongest_sampled_frame_and_shown_like_a_picture(tmp_path: Path) -> None:
    evidence, case = tmp_path / "evidence", tmp_path / "case"
    evidence.mkdir()
    _video_of([(0, 0, 255)] * 3 + [(255, 0, 0)] * 3, evidence / "blue_then_red.mp4")
    _video_of([(0, 0, 255)] * 6, evidence / "blue.mp4")
    api.scan(evidence, case, home=tmp_path / "home", workers=1,
             classify_model=write_stub_model(tmp_path / "force-model.onnx"))
    scores = _scores_by_path(case)
    assert scores["blue_then_red.mp4"][1] > 0.5 and scores["blue.mp4"] == (0.0, 0.0)
    assert _rows(case, "SELECT label FROM detections") == [("NUDITY_TEST",)]
    store = CaseStore.open(case, create=False)
    add_user(store, "examiner1", "examiner", password="examiner-password-1", actor="test setup")
    store.close()
    with TestClient(create_app(case, WebConfig())) as client:
        login(client, "examiner1", "examiner-password-1")
        page = client.get(f"/item/{_ids(case)['blue_then_red.mp4']}").text
        assert "Classifier (indicative, automatic)" in page and "NUDITY_TEST" in page and "strongest" in page
        assert _tiles(client.get("/gallery?nudity=true").text) == [_ids(case)["blue_then_red.mp4"]]


def test_a_scan_stopped_while_classifying_keeps_its_hashes_and_the_resumed_scan_classifies_the_rest(
        classified_case, tmp_path: Path, monkeypatch) -> None:
    _, evidence, home, model = classified_case
    case = tmp_path / "case"
    record = CaseStore.record_classified

    def stopped(self: CaseStore, exhibit_id: int, found: list, paths: dict[int, str], **more: Any) -> Counter:
        record(self, exhibit_id, found[:1], paths, **more)
        raise KeyboardInterrupt  # Ctrl-C, acted on right after this write

    monkeypatch.setattr(CaseStore, "record_classified", stopped)
    assert api.scan(evidence, case, exhibit_ref="EX1", home=home, workers=1, classify_model=model).interrupted
    assert _rows(case, "SELECT count(*) FROM classifications") == [(1,)]
    assert _rows(case, "SELECT count(*) FROM media WHERE pdq IS NOT NULL") == [(len(FILES),)]
    monkeypatch.setattr(CaseStore, "record_classified", record)
    assert not api.scan(evidence, case, exhibit_ref="EX1", home=home, workers=1, classify_model=model).interrupted
    assert _scores_by_path(case) == _scores_by_path(classified_case[0])


HUNG_LIMIT = 2.0  # seconds a picture: the stub model answers in milliseconds, or never


@contextlib.contextmanager
def _short_time_limit() -> Iterator[None]:
    """Batches of 2 with 2 s a picture, so a hang is found in seconds, not the minutes the stage allows."""
    from fieldlab.triage import classify_pool

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(classify_pool, "SECONDS_PER_PICTURE", HUNG_LIMIT)
        patch.setattr(classify_pool, "BATCH", 2)
        yield


def _scan_with(evidence: Path, case: Path, home: Path, model: Path) -> ScanResult:
    with _short_time_limit():
        return api.scan(evidence, case, exhibit_ref="EX1", home=home, workers=1, classify_model=model)


@pytest.fixture(scope="module")
def hung_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Path, ScanResult]:
    """A scan whose model never returns on the blue picture: a real ONNX ``Loop`` of 10^15 turns inside
    onnxruntime, which no Python-level timeout can interrupt."""
    root = tmp_path_factory.mktemp("hung")
    evidence, home, model = _evidence(root)
    hangs = write_stub_model(root / "hangs-on-blue.onnx", hang_on_blue=True)
    return root / "case", evidence, home, model, _scan_with(evidence, root / "case", home, hangs)


def _classify_problems(case: Path) -> list[tuple]:
    return _rows(case, "SELECT items.path, errors.kind, errors.message, errors.at FROM errors "
                       "JOIN items ON items.id = errors.item_id WHERE stage = 'classify'")


def test_a_model_that_hangs_on_one_picture_is_stopped_that_picture_blamed_and_the_scan_ends(hung_case) -> None:
    case, *_, result = hung_case
    assert not result.interrupted
    ((path, kind, message, _),) = _classify_problems(case)
    assert (path, kind, message) == ("Users/alex/Pictures/blue.png", "limit", TIMED_OUT)
    assert result.progress.problems == {"limit": 1}
    scores = _scores_by_path(case)
    assert len(scores) == len(FILES) - 1 and scores["Users/alex/Pictures/red.png"][1] > 0.9
    assert _rows(case, "SELECT count(*) FROM media WHERE pdq IS NOT NULL") == [(len(FILES),)]  # hashes all stand
    assert len(_rows(case, "SELECT DISTINCT item_id, hash_set FROM hits")) == 2  # exact and near hits stand


def test_a_picture_stopped_for_time_is_tried_once_more_by_the_next_run_and_its_problem_replaced(
        hung_case, classified_case, tmp_path: Path) -> None:
    import shutil

    hung, evidence, home, model, _ = hung_case
    shutil.copytree(hung, tmp_path / "case")
    result = _scan_with(evidence, tmp_path / "case", home, model)
    assert _classify_problems(tmp_path / "case") == [] and result.progress.problems == {}
    assert _scores_by_path(tmp_path / "case") == _scores_by_path(classified_case[0])  # blue too, as in one clean run
    store = CaseStore.open(tmp_path / "case", create=False)  # the problem removed is said in the audit trail
    try:
        superseded = [e.detail for e in store.audit.entries() if e.action == "problems_superseded"]
        assert store.audit.verify().ok
    finally:
        store.close()
    ((blue,),) = _rows(tmp_path / "case", "SELECT id FROM items WHERE path = 'Users/alex/Pictures/blue.png'")
    assert [(d["exhibit"], d["stage"], d["problems"]) for d in superseded] == [
        ("EX1", "classify", [{"item": blue, "kind": "limit", "message": TIMED_OUT}])]


def test_a_picture_that_hangs_again_on_its_one_more_try_is_not_tried_a_third_time(hung_case, tmp_path: Path) -> None:
    import shutil

    hung, evidence, home, model, _ = hung_case
    case = tmp_path / "case"
    shutil.copytree(hung, case)
    hangs = hung.parent / "hangs-on-blue.onnx"
    _scan_with(evidence, case, home, hangs)
    ((path, kind, message, at),) = _classify_problems(case)
    assert (path, kind, message) == ("Users/alex/Pictures/blue.png", "limit", TIMED_OUT + AGAIN)
    result = _scan_with(evidence, case, home, model)  # this model would classify it: it is not asked to
    assert _classify_problems(case) == [(path, kind, message, at)] and result.progress.problems == {"limit": 1}
    assert "Users/alex/Pictures/blue.png" not in _scores_by_path(case)


def test_a_picture_the_model_itself_fails_on_is_not_tried_again(tmp_path: Path) -> None:
    evidence, home, model = _evidence(tmp_path)
    case = tmp_path / "case"
    api.scan(evidence, case, exhibit_ref="EX1", home=home, workers=1,
             classify_model=write_stub_model(tmp_path / "crashes-on-blue.onnx", crash_on_blue=True))
    before = _classify_problems(case)
    assert [(path, kind) for path, kind, *_ in before] == [("Users/alex/Pictures/blue.png", "internal")]
    api.scan(evidence, case, exhibit_ref="EX1", home=home, workers=1, classify_model=model)
    assert _classify_problems(case) == before and "Users/alex/Pictures/blue.png" not in _scores_by_path(case)
