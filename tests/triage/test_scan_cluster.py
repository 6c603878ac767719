"""A scan on a Dask cluster: the same items, hits and pictures as on one machine, even when a worker dies mid-scan."""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import faulthandler
import io
import json
import logging
import os
import signal
import sqlite3
import time
import warnings
import zipfile
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

import dask
import numpy as np
import pytest
from distributed import LocalCluster

import fieldlab
from fieldlab.case.store import MediaResult
from fieldlab.demo import procedural_jpeg, procedural_png
from fieldlab.detect.classify import Classification, ModelPixels, ModelSpec
from fieldlab.detect.perceptual import image_pdq, pdq_hex
from fieldlab.evidence.sources import SourceSpec
from fieldlab.problems import Problem, ProblemKind
from fieldlab.results import ClassifiedPicture
from fieldlab.triage import scan as scan_module
from fieldlab.triage.classify_pool import TIMED_OUT, ClassifyPool, ToClassify
from fieldlab.triage.cluster import ClusterError, ClusterPool, UnitLost, open_work_pool
from fieldlab.triage.media_pool import CRASHED, HUNG, MediaPool
from fieldlab.triage.perceive import MediaTask, perceive_batch
from fieldlab.triage.reader import read_batch
from fieldlab.triage.scan import ScanResult
from fieldlab.triage.unallocated import carve_region
from tests.builders import KnownFile, write_csv_hashset
from tests.evidence.disk_builders import PlantedFile, build_disk

TRIP_WIRE = "trip-wire"  # a unit holding an item of this name kills its worker the first time it runs


def _cluster(allowed_failures: int = 3) -> LocalCluster:
    with dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Port .* is already in use", UserWarning)
        return LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                            dashboard_address=None, silence_logs=logging.CRITICAL)


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[LocalCluster]:
    cluster = _cluster()
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[KnownFile], str]:
    """A folder of about 300 files (pictures, text, a zip of pictures), a small disk image with a deleted picture
    and one hidden in unpartitioned space, known files among them, and the PDQ of a picture re-encoded in the folder."""
    root = tmp_path_factory.mktemp("corpus")
    folder = root / "evidence" / "folder"
    known: list[KnownFile] = []
    for n in range(160):
        data = procedural_jpeg(n, 96, 72)
        name = f"{TRIP_WIRE}.jpg" if n == 77 else f"{n:03}.jpg"
        path = folder / "Users" / "kim" / "Pictures" / f"{n // 40}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if n % 16 == 0 or n == 77:
            known.append(KnownFile(str(path), data, "ABC"[n % 3]))
    for n in range(120):
        path = folder / "Users" / "kim" / "Documents" / f"note-{n:03}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"shopping list {n}\n".encode() * (n + 1))
    members = {f"holiday/{n}.png": procedural_png(500 + n, 64, 48) for n in range(20)}
    known += [KnownFile(f"member {name}", data, "B") for name, data in list(members.items())[:3]]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    (folder / "Users" / "kim" / "Downloads").mkdir(parents=True)
    (folder / "Users" / "kim" / "Downloads" / "holiday.zip").write_bytes(buffer.getvalue())
    original = procedural_jpeg(900, 320, 240, quality=95)
    (folder / "Users" / "kim" / "Pictures" / "copy.jpg").write_bytes(procedural_jpeg(900, 320, 240, quality=40))

    deleted, hidden = procedural_jpeg(910, 200, 150), procedural_jpeg(911, 240, 180)
    disk = build_disk(root / "evidence" / "disk.raw", "mbr", [("fat32", 40, [
        PlantedFile(f"DCIM/{n}.jpg", procedural_jpeg(920 + n, 120, 90)) for n in range(12)
    ] + [PlantedFile(f"DCIM/{TRIP_WIRE}.jpg", procedural_jpeg(940, 120, 90)),
         PlantedFile("DCIM/gone.jpg", deleted, deleted=True)])], gap_mib=2)
    with open(disk.path, "r+b") as raw:
        raw.seek(disk.gaps[0][0] + 8192)
        raw.write(hidden)
    known += [KnownFile("gone.jpg", deleted, "A"), KnownFile("hidden.jpg", hidden, "C")]
    return folder, disk.path, known, pdq_hex(image_pdq(io.BytesIO(original)).pdq)


@pytest.fixture()
def hash_sets(tmp_path: Path, corpus: tuple[Path, Path, list[KnownFile], str]) -> None:
    _, _, known, pdq = corpus
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", known), name="known")
    (tmp_path / "known.pdq").write_text(f"pdq {pdq}\n")
    fieldlab.import_hashset(tmp_path / "known.pdq", name="known-pdq")


def _snapshot(case_dir: Path) -> dict[str, list[tuple]]:
    """What a scan found, keyed by locator (item ids depend on the order results arrive in)."""
    db = sqlite3.connect(case_dir / "case.sqlite")
    try:
        return {
            "items": sorted(db.execute(
                "SELECT locator, kind, size, md5, sha1, flags, state, family, known_good FROM items")),
            "hits": sorted(db.execute(
                "SELECT i.locator, h.hash_set, h.method, h.category, h.distance, h.transform "
                "FROM hits h JOIN items i ON i.id = h.item_id")),
            "media": sorted(db.execute(
                "SELECT i.locator, m.kind, m.pdq, m.pdq_quality, m.dihedral, m.error FROM media m "
                "JOIN items i ON i.id = m.item_id")),
            "errors": sorted(db.execute("SELECT stage, path, message FROM errors")),
            "regions": sorted(db.execute("SELECT kind, offset, length, carved_at IS NOT NULL FROM regions")),
        }
    finally:
        db.close()


def _scan(source: Path, case_dir: Path, **where: Any) -> ScanResult:
    return fieldlab.scan(source, case_dir, exhibit_ref="EX1", verify=False, **where)


def _assert_same(local: dict[str, list[tuple]], distributed: dict[str, list[tuple]]) -> None:
    for table in local:
        assert distributed[table] == local[table], table


@pytest.mark.parametrize("source", ["folder", "disk"])
def test_a_scan_on_a_dask_cluster_records_the_same_items_hits_and_pictures_as_one_machine(
    tmp_path: Path, corpus: tuple[Path, Path, list[KnownFile], str], hash_sets: None, dask_cluster: LocalCluster,
    source: str,
) -> None:
    evidence = corpus[0] if source == "folder" else corpus[1]
    alone = _scan(evidence, tmp_path / "alone", workers=2)
    shared = _scan(evidence, tmp_path / "cluster", cluster=dask_cluster.scheduler_address)
    local, distributed = _snapshot(tmp_path / "alone"), _snapshot(tmp_path / "cluster")
    _assert_same(local, distributed)
    assert shared.progress.files_read == alone.progress.files_read
    assert shared.progress.hits_by_category == alone.progress.hits_by_category
    assert shared.progress.near_by_category == alone.progress.near_by_category
    methods = {method for _, _, method, *_ in local["hits"]}
    if source == "folder":
        assert len(local["items"]) > 300 and len(local["media"]) > 180
        assert methods == {"md5", "sha1", "pdq"}
        assert any("member:" in locator for locator, *_ in local["hits"])
    else:
        assert any(locator.startswith("carved:") for locator, *_ in local["hits"])  # carving ran on the cluster
        assert all(carved for *_, carved in local["regions"])


def _once(marker: Path, work: Callable[..., Any], holds: Callable[[Any], bool]) -> Callable[..., Any]:
    return partial(_run_or_die, marker, work, holds)


def _run_or_die(marker: Path, work: Callable[..., Any], holds: Callable[[Any], bool], spec: SourceSpec,
                unit: Any, *more: Any) -> Any:
    """The first time a unit holds the trip wire, its worker process dies on it, as on a machine that crashes."""
    if holds(unit) and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return work(spec, unit, *more)


def _holds_trip_wire(tasks: list[Any]) -> bool:
    return any(TRIP_WIRE in task.locator for task in tasks)


def _is_a_gap(task: Any) -> bool:
    return task.kind == "gap"


@pytest.mark.parametrize("source", ["folder", "disk"])
def test_a_worker_killed_mid_scan_changes_nothing_and_nothing_is_recorded_twice(
    tmp_path: Path, corpus: tuple[Path, Path, list[KnownFile], str], hash_sets: None, dask_cluster: LocalCluster,
    monkeypatch: pytest.MonkeyPatch, source: str,
) -> None:
    evidence = corpus[0] if source == "folder" else corpus[1]
    reference = _scan(evidence, tmp_path / "alone", workers=2)
    markers = {stage: tmp_path / f"{stage}.killed" for stage in ("read", "decode", "carve")}
    monkeypatch.setattr(scan_module, "BATCH_FILES", 16)  # many units in flight on both workers
    monkeypatch.setattr(scan_module, "FIRST_WALK_BATCH_FILES", 16)
    monkeypatch.setattr(scan_module, "read_batch", _once(markers["read"], read_batch, _holds_trip_wire))
    monkeypatch.setattr(scan_module, "carve_region", _once(markers["carve"], carve_region, _is_a_gap))
    monkeypatch.setattr(scan_module, "MediaPool",
                        partial(MediaPool, decode=_once(markers["decode"], perceive_batch, _holds_trip_wire)))
    result = _scan(evidence, tmp_path / "cluster", cluster=dask_cluster.scheduler_address)
    killed = {stage for stage, marker in markers.items() if marker.exists()}
    assert killed == ({"read", "decode"} if source == "folder" else {"read", "decode", "carve"})
    _assert_same(_snapshot(tmp_path / "alone"), _snapshot(tmp_path / "cluster"))
    p, expected = result.progress, reference.progress
    assert (p.files_read, p.bytes_read, p.media_decoded, p.known_good) == (
        expected.files_read, expected.bytes_read, expected.media_decoded, expected.known_good)
    assert p.hits_by_category == expected.hits_by_category and p.near_by_category == expected.near_by_category
    db = sqlite3.connect(tmp_path / "cluster" / "case.sqlite")
    assert db.execute("SELECT COUNT(*) FROM items WHERE flags LIKE '%duplicate%duplicate%'").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM items WHERE state = 'pending'").fetchone() == (0,)


def _crash_on_second(spec: SourceSpec, tasks: list[MediaTask]) -> list[MediaResult]:
    """A decoding worker that dies as a native decoder would on the item numbered 2, every time."""
    if any(t.item_id == 2 for t in tasks):
        faulthandler.disable()
        ctypes.string_at(0)  # segmentation fault
    return perceive_batch(spec, tasks)


def _hang_on_second(spec: SourceSpec, tasks: list[MediaTask]) -> list[MediaResult]:
    """A decoding worker stuck, as a native decoder looping on crafted input would be, on the item numbered 2."""
    if any(t.item_id == 2 for t in tasks):
        while True:
            time.sleep(1)
    return perceive_batch(spec, tasks)


@pytest.mark.parametrize(("decode", "seconds", "reason"),
                         [(_crash_on_second, 60, CRASHED), (_hang_on_second, 2, HUNG.format(2))])
def test_on_a_cluster_a_decoder_crash_or_hang_costs_only_the_file_that_caused_it(
    tmp_path: Path, decode: Callable[..., Any], seconds: float, reason: str
) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for n in range(1, 6):
        (evidence / f"{n}.jpg").write_bytes(procedural_jpeg(50 + n, 160, 120))
    spec = SourceSpec(str(evidence), "folder")
    tasks = [MediaTask(n, f"file:{n}.jpg", "image", os.path.getsize(evidence / f"{n}.jpg")) for n in range(1, 6)]
    results: dict[int, MediaResult] = {}
    cluster = _cluster(allowed_failures=1)  # a unit whose worker died twice is lost: the pool splits it up
    with open_work_pool(str(evidence), cluster=cluster.scheduler_address) as pool:
        with MediaPool(spec, 2, decode=decode, seconds_per_item=seconds, cluster=pool) as media:
            media.submit(tasks[:2], {t.item_id: f"{t.item_id}.jpg" for t in tasks[:2]})
            media.submit(tasks[2:], {t.item_id: f"{t.item_id}.jpg" for t in tasks[2:]})
            while media.busy:
                for batch, _paths in media.collect(block=False):
                    results.update({r.item_id: r for r in batch})
                time.sleep(0.05)
    cluster.close()
    assert sorted(results) == [1, 2, 3, 4, 5]
    assert results[2].error.message == reason
    assert all(results[n].error is None and results[n].pdq for n in (1, 3, 4, 5))


def test_a_cluster_whose_workers_cannot_see_the_evidence_is_refused_before_anything_is_recorded(
    tmp_path: Path, dask_cluster: LocalCluster
) -> None:
    with pytest.raises(ClusterError, match="cannot see the evidence"):
        with open_work_pool(str(tmp_path / "not-mounted"), cluster=dask_cluster.scheduler_address):
            pass
    with pytest.raises(ClusterError, match="not both"):
        with open_work_pool(str(tmp_path), cluster=dask_cluster.scheduler_address, local_cluster=2):
            pass


def test_an_unreachable_scheduler_is_reported_in_the_examiners_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                     ) -> None:
    monkeypatch.setattr("fieldlab.triage.cluster.CONNECT_TIMEOUT", 1.0)
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        with open_work_pool(str(tmp_path), cluster="tcp://127.0.0.1:9"):
            pass


def test_the_scan_command_runs_on_a_local_cluster_and_the_audit_trail_says_where(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fieldlab.cli import app

    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for n in range(6):
        (evidence / f"{n}.jpg").write_bytes(procedural_jpeg(60 + n, 120, 90))
    case = tmp_path / "case"
    done = CliRunner().invoke(app, ["scan", str(evidence), "--case", str(case), "--local-cluster", "2", "--no-live"])
    assert done.exit_code == 0, done.output
    db = sqlite3.connect(case / "case.sqlite")
    (detail,) = db.execute("SELECT detail FROM audit_log WHERE action = 'scan_started'").fetchone()
    assert json.loads(detail)["cluster"].startswith("tcp://127.0.0.1:")
    assert db.execute("SELECT COUNT(*) FROM media WHERE pdq IS NOT NULL").fetchone() == (6,)
    refused = CliRunner().invoke(app, ["scan", str(evidence), "--case", str(case), "--local-cluster", "2",
                                       "--workers", "2", "--no-live"])
    assert refused.exit_code == 2 and "with a cluster, its workers do the reading" in " ".join(refused.output.split())


def _pid_or_hang(_spec: SourceSpec, model: ModelSpec, batch: list[ToClassify]) -> list:
    """Scores each picture with the process id of the worker that ran it; never returns on item 2."""
    while any(entry.item_id == 2 for entry in batch):
        time.sleep(1)
    return [(entry.item_id, ClassifiedPicture(model.sha256, Classification((), float(os.getpid()), 0.0)))
            for entry in batch]


def test_on_a_cluster_the_classifier_runs_on_the_workers_and_a_batch_that_hangs_costs_only_its_picture(
    tmp_path: Path
) -> None:
    letterbox = ModelPixels(np.zeros((32, 32, 3), np.uint8), (32, 32), (32, 32))
    model = ModelSpec("unused.onnx", "stub", "0" * 64, "none", ("A",), frozenset({"A"}), 32)
    found: dict[int, ClassifiedPicture] = {}
    cluster = _cluster()
    with open_work_pool(str(tmp_path), cluster=cluster.scheduler_address) as pool:
        assert isinstance(pool, ClusterPool)
        # 5 s a picture: a fresh worker's first unit imports this module, seconds under load
        with ClassifyPool(SourceSpec(str(tmp_path), "folder"), model, 2, run=_pid_or_hang, seconds_per_picture=5,
                          cluster=pool) as classifier:
            for items in ([2], [1, 3, 4, 5]):  # two batches, one on each worker
                classifier.offer([MediaResult(i, "image", for_classifier=(letterbox,)) for i in items], {})
                classifier.dispatch()
            assert len(classifier.futures) == 2
            while classifier.busy:
                cf.wait(classifier.futures, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                for batch, _ in classifier.collect():
                    found.update(batch)
                classifier.dispatch()
    cluster.close()
    assert sorted(found) == [1, 2, 3, 4, 5]
    assert found[2].problem == Problem(ProblemKind.LIMIT, TIMED_OUT)
    workers = {found[i].found.score for i in found if i != 2}  # the other batch was not disturbed
    assert len(workers) == 1 and float(os.getpid()) not in workers


def test_a_scan_on_a_cluster_sends_the_classifier_batches_to_the_workers_and_scores_as_one_machine(
    tmp_path: Path, dask_cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # imported here: every fresh Dask worker imports this module to run its units, and onnx costs it most of a second
    from tests.detect.classifier_builders import write_stub_model

    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for n in range(12):
        (evidence / f"{n}.jpg").write_bytes(procedural_jpeg(70 + n, 120, 90))
    model = write_stub_model(tmp_path / "force-model.onnx")
    units: list[str] = []
    submit = ClusterPool.submit

    def noted(self: ClusterPool, fn: Callable[..., Any], /, *args: Any, **options: Any) -> cf.Future:
        units.append(fn.__name__)
        return submit(self, fn, *args, **options)

    monkeypatch.setattr(ClusterPool, "submit", noted)
    _scan(evidence, tmp_path / "alone", workers=2, classify_model=model)
    assert units == []
    _scan(evidence, tmp_path / "cluster", cluster=dask_cluster.scheduler_address, classify_model=model)
    assert "classify_batch" in units
    scores = "SELECT i.path, c.score, c.nudity FROM classifications c JOIN items i ON i.id = c.item_id ORDER BY i.path"
    local, distributed = (sqlite3.connect(tmp_path / case / "case.sqlite").execute(scores).fetchall()
                          for case in ("alone", "cluster"))
    assert len(local) == 12 and distributed == local


class _SettledLate:
    """A Dask future as the done-callback sees it when the unit had finished but its result went with a dying worker
    before the callback ran: status "lost", and ``exception()`` answering once Dask has computed the unit again
    (None when that succeeded).  Timing a real worker's death into that gap is not repeatable; this is its outcome."""

    status, key = "lost", "perceive_batch-1"

    def __init__(self, again: BaseException | None) -> None:
        self._again = again

    def exception(self) -> BaseException | None:
        return self._again

    def result(self) -> list[str]:
        return ["the unit's results"]


def test_a_unit_whose_result_was_lost_and_computed_again_gives_that_result_not_none() -> None:
    pool, done = ClusterPool(client=None), cf.Future()
    pool._settle(done, _SettledLate(again=None))
    assert done.result() == ["the unit's results"]


def test_a_unit_lost_and_killing_its_workers_again_is_a_lost_unit() -> None:
    from distributed import KilledWorker

    pool, done = ClusterPool(client=None), cf.Future()
    pool._settle(done, _SettledLate(again=KilledWorker("perceive_batch-1", "tcp://127.0.0.1:1", 1)))
    with pytest.raises(UnitLost, match="kept dying"):
        done.result()
