"""What a scan does, as one frozen value: the API builds it, the scan reads it, the audit trail records it.

Twenty positional parameters let two swapped booleans go unnoticed (issue 20.4); named fields of a frozen object
cannot be passed in the wrong order, and what the case records of them is listed in one place
(``ScanOptions.audit_record``).  Plain data only, so the command line and the API import it without loading the
evidence, imaging or database libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fieldlab.evidence.archives import MAX_DEPTH

if TYPE_CHECKING:
    from fieldlab.detect.classify import ModelSpec
    from fieldlab.evidence.image import UnlockOptions


@dataclass(frozen=True)
class Workers:
    """Where the reading, decoding and carving run: ``processes`` on this machine (default one per core), the
    workers of the Dask scheduler at ``cluster`` (``tcp://host:8786``), or of a Dask cluster of ``local_cluster``
    processes started for the scan.  ``triage.cluster.open_work_pool`` refuses more than one of them."""

    processes: int | None = None
    cluster: str | None = None
    local_cluster: int | None = None


@dataclass(frozen=True)
class SourceAccess:
    """What opening the evidence needs besides its path: credentials (in memory only, never written to the case)
    and the files or folders holding a differencing image's parents, besides the folder holding it."""

    unlock: UnlockOptions | None = None
    parents: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ScanOptions:
    """How one scan reads and matches its source; the defaults are the command line's."""

    hash_sets: tuple[str, ...] = ()  # the sets matched, by name; none named: every set of the library
    sha256: bool = False  # also compute SHA-256 (MD5 and SHA-1 always; SHA-256 too when a set used holds it)
    verify: bool = True  # check a disk image against its acquisition hash after the verdict
    perceptual: bool = True  # decode pictures and videos for PDQ/vPDQ near matches
    pdq_radius: int = 31  # largest PDQ distance that counts as a near match
    embedded: bool = True  # search documents and unknown files for pictures and videos inside them
    carve: bool = True  # carve a disk image's free space
    max_depth: int = MAX_DEPTH  # levels of archives within archives opened; deeper is a nesting problem
    classify: ModelSpec | None = None  # the model classifying each decoded picture (review order only)
    second_copy: bool = False  # scan a source the case already holds under another exhibit reference, on purpose
    workers: Workers = Workers()
    access: SourceAccess = SourceAccess()

    @property
    def classifier(self) -> ModelSpec | None:
        """The model actually run: none without the perceptual stage, whose decode it reuses."""
        return self.classify if self.perceptual else None

    def audit_record(
        self, *, exhibit: str, source: str, kind: str, hash_sets: list[str], cluster: str | None,
        parents: tuple[str, ...], second_copy_of: str | None,
    ) -> dict[str, object]:
        """The ``scan_started``/``scan_resumed`` audit entry: every option, with what the scan resolved from them
        (the sets' versions, the cluster's address, the differencing chain found).  Passwords are counted, never
        named."""
        archive_passwords = self.access.unlock.archive_passwords if self.access.unlock else ()
        classifier = self.classifier
        return {
            "exhibit": exhibit, "source": source, "kind": kind, "hash_sets": hash_sets, "sha256": self.sha256,
            "shadow_copies": bool(self.access.unlock and self.access.unlock.shadow_copies),
            "perceptual": self.perceptual, "pdq_radius": self.pdq_radius, "embedded": self.embedded,
            "carve": self.carve, "max_depth": self.max_depth, "archive_passwords": len(archive_passwords),
            "cluster": cluster,
            "classify": {"model": classifier.name, "sha256": classifier.sha256} if classifier else None,
            **({"parents": list(parents)} if parents else {}),
            **({"second_copy_of": second_copy_of} if second_copy_of else {}),
        }
