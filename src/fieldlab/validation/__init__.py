"""``fieldlab validate``: a ground-truth corpus built from a seed, scanned as an examiner would scan it, scored,
and written up as a validation record (see docs/validation.md)."""

from __future__ import annotations

from pathlib import Path

from fieldlab.validation.corpus import SIZES, build_corpus
from fieldlab.validation.record import WrittenRecord, build_record, write_record
from fieldlab.validation.run import run_fieldlab
from fieldlab.validation.score import score

__all__ = ["SIZES", "validate"]


def validate(out: Path, *, seed: int = 1, size: str = "quick", peers: bool = False) -> WrittenRecord:
    """Build the corpus in ``out/corpus``, scan it into ``out/work``, score it and write ``out/validation-record.*``."""
    out = Path(out)
    truth = build_corpus(out / "corpus", seed, size)
    run = run_fieldlab(out / "corpus", truth, out / "work")
    result = score(truth, list(run.findings), run.charging, list(run.problems))
    peer_scores = {}
    if peers:
        from fieldlab.validation.peers import run_peers

        peer_scores = {name: score(truth, findings, None)
                       for name, findings in run_peers(out / "corpus", truth, out / "work" / "peers").items()}
    return write_record(build_record(truth, run, result, peers=peer_scores), out)
