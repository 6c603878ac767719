"""The classifier's pool on its own: a worker that dies, or a batch that never ends, costs only the picture that
caused it, and the pool goes on."""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from fieldlab.detect.classify import Classification, ModelPixels, ModelSpec, describe_model
from fieldlab.evidence.context import EvidenceContext
from fieldlab.evidence.sources import describe_source
from fieldlab.problems import ProblemKind
from fieldlab.results import ClassifiedPicture, MediaResult
from fieldlab.triage.classify_pool import AGAIN, CRASHED, NICENESS, TIMED_OUT, ClassifyPool, ToClassify, classify_batch
from fieldlab.triage.perceive import MediaTask

MODEL = ModelSpec("unused.onnx", "stub", "0" * 64, "none", ("A",), frozenset({"A"}), 32)
DIES_ON = 3
SLOW = 9  # alone in the second batch
HANGS = 2
LETTERBOX = ModelPixels(np.zeros((32, 32, 3), np.uint8), (32, 32), (32, 32))


def dies_on_one_picture(_spec: object, model: ModelSpec, batch: list[ToClassify]) -> list:
    """Kills its worker process (as a native crash would) when the batch holds item ``DIES_ON``; takes its time over
    item ``SLOW``, so that batch is still running when the other worker dies."""
    if any(entry.item_id == DIES_ON for entry in batch):
        os._exit(1)
    if any(entry.item_id == SLOW for entry in batch):
        time.sleep(1)
    return [(entry.item_id, ClassifiedPicture(model.sha256, Classification((), 0.1 * entry.item_id, 0.0)))
            for entry in batch]


def test_a_worker_dying_on_one_picture_is_that_pictures_problem_and_the_rest_are_classified(tmp_path: Path) -> None:
    letterbox = ModelPixels(np.zeros((32, 32, 3), np.uint8), (32, 32), (32, 32))
    results = [MediaResult(i, "image", for_classifier=(letterbox,)) for i in range(1, 10)]
    found: dict[int, ClassifiedPicture] = {}
    with ClassifyPool(describe_source(tmp_path), MODEL, 2, run=dies_on_one_picture) as pool:
        pool.offer(results, {i: f"picture{i}.jpg" for i in range(1, 10)})
        while pool.busy:
            pool.dispatch()
            cf.wait(pool.futures, timeout=1, return_when=cf.FIRST_COMPLETED)
            for batch, paths in pool.collect():
                assert all(paths[i] == f"picture{i}.jpg" for i, _ in batch)
                found.update(batch)
    assert sorted(found) == list(range(1, 10))  # the batch of 1 broke too: not blamed
    assert found[DIES_ON].problem.message == CRASHED and found[DIES_ON].found is None
    assert all(found[i].found.score == 0.1 * i for i in found if i != DIES_ON)


def niceness(_spec: object, model: ModelSpec, batch: list[ToClassify]) -> list:
    """The worker's scheduling niceness, reported as the score."""
    return [(entry.item_id, ClassifiedPicture(model.sha256, Classification((), float(os.nice(0)), 0.0)))
            for entry in batch]


def test_the_workers_yield_to_the_decoding_and_run_at_normal_priority_once_it_is_done(tmp_path: Path) -> None:
    letterbox = ModelPixels(np.zeros((32, 32, 3), np.uint8), (32, 32), (32, 32))

    def classified(pool: ClassifyPool, item_id: int) -> float:
        pool.offer([MediaResult(item_id, "image", for_classifier=(letterbox,))], {})
        found: dict[int, ClassifiedPicture] = {}
        while pool.busy:
            pool.dispatch()
            cf.wait(pool.futures, timeout=1)
            found.update(entry for batch, _ in pool.collect() for entry in batch)
        return found[item_id].found.score

    with ClassifyPool(describe_source(tmp_path), MODEL, 1, run=niceness) as pool:
        assert classified(pool, 1) == os.nice(0) + NICENESS
        pool.decoding_done()
        assert classified(pool, 2) == os.nice(0)


def hangs_on_one_picture(_spec: object, model: ModelSpec, batch: list[ToClassify]) -> list:
    """Never returns when the batch holds item ``HANGS`` (as a model stuck inside onnxruntime would not)."""
    while any(entry.item_id == HANGS for entry in batch):
        time.sleep(1)
    return [(entry.item_id, ClassifiedPicture(model.sha256, Classification((), 0.1 * entry.item_id, 0.0)))
            for entry in batch]


def _run_to_the_end(pool: ClassifyPool) -> dict[int, ClassifiedPicture]:
    found: dict[int, ClassifiedPicture] = {}
    while pool.busy:
        pool.dispatch()
        cf.wait(pool.futures, timeout=0.2, return_when=cf.FIRST_COMPLETED)
        for batch, _ in pool.collect():
            found.update(batch)
    return found


def test_a_batch_past_its_time_limit_is_stopped_and_only_the_picture_that_hangs_alone_is_blamed(tmp_path: Path) -> None:
    results = [MediaResult(i, "image", for_classifier=(LETTERBOX,)) for i in range(1, 5)]
    started = time.monotonic()
    with ClassifyPool(describe_source(tmp_path), MODEL, 1, run=hangs_on_one_picture, seconds_per_picture=0.5) as pool:
        pool.offer(results, {i: f"picture{i}.jpg" for i in range(1, 5)})
        found = _run_to_the_end(pool)
    assert time.monotonic() - started < 30  # the batch of 4 had 2 s, the picture alone 0.5 s: not for ever
    assert sorted(found) == [1, 2, 3, 4]
    problem = found[HANGS].problem
    assert problem is not None and (problem.kind, problem.message) == (ProblemKind.LIMIT, TIMED_OUT)
    assert found[HANGS].found is None
    assert all(found[i].found.score == 0.1 * i and found[i].problem is None for i in (1, 3, 4))


def test_a_picture_that_fails_again_on_its_one_more_try_is_recorded_as_not_tried_again(tmp_path: Path) -> None:
    tasks = [MediaTask(i, f"file:picture{i}.jpg", "image", 1) for i in (HANGS, DIES_ON)]
    found: dict[int, ClassifiedPicture] = {}
    for run in (hangs_on_one_picture, dies_on_one_picture):
        with ClassifyPool(describe_source(tmp_path), MODEL, 1, run=run, seconds_per_picture=0.5) as pool:
            pool.decode_again(tasks, {}, retry=frozenset({HANGS, DIES_ON}))
            found.update({i: c for i, c in _run_to_the_end(pool).items() if c.problem})
    assert found[HANGS].problem.message == TIMED_OUT + AGAIN and found[HANGS].problem.kind is ProblemKind.LIMIT
    assert found[DIES_ON].problem.message == CRASHED + AGAIN and found[DIES_ON].problem.kind is ProblemKind.INTERNAL


def test_a_worker_without_the_scans_model_path_uses_its_own_copy_of_the_same_file_and_no_other(tmp_path: Path) -> None:
    """A cluster worker may have the classify extra installed elsewhere: the same file (by SHA-256) is found."""
    installed = describe_model()
    elsewhere = replace(installed, path=str(tmp_path / "other-venv" / "320n.onnx"))
    entry = ToClassify(1, "picture1.jpg", (ModelPixels(np.zeros((320, 320, 3), np.uint8), (320, 320), (320, 320)),))
    ((_, found),) = classify_batch(describe_source(tmp_path), elsewhere, [entry], EvidenceContext())
    assert found.problem is None and found.found is not None
    another = replace(elsewhere, sha256="1" * 64)
    ((_, refused),) = classify_batch(describe_source(tmp_path), another, [entry], EvidenceContext())
    assert refused.problem is not None and refused.problem.kind is ProblemKind.UNSUPPORTED
