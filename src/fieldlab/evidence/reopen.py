"""Re-opening one item of an exhibit outside the walk: the review app's thumbnails, the report's pictures and the
scan's workers all come here, so an item is opened the same way wherever it is asked for, in the caller's
``EvidenceContext`` (which keeps the exhibit and its containers open for the items that follow).

The case stores an exhibit's source (its path), kind and facts (a differencing image's parents), never a
password.  What else the scan knew is found again from the evidence itself: a folder's layout (an encrypted iOS
backup) is read from the folder, as ``describe_source`` read it when the scan began.  Passwords are the caller's, in memory only:
what an examiner gives for an exhibit is tried on whatever it holds encrypted (``exhibit_unlock``).

Every failure is a ``ReopenError`` carrying a ``Problem`` (unreadable, encrypted, damaged, internal) with a reason
in the examiner's words, raised at once: a caller never waits on an item that cannot be opened.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import Sequence

from fieldlab.errors import EvidenceError
from fieldlab.evidence.archives import ArchiveError
from fieldlab.evidence.context import EvidenceContext, OpenedExhibit
from fieldlab.evidence.folder import SourceError
from fieldlab.evidence.image import UnlockOptions
from fieldlab.evidence.nested import open_nested
from fieldlab.evidence.phone.encrypted_backup import KEY_LAYER
from fieldlab.evidence.sources import FolderSource, ItemHandle, SourceSpec, describe_source
from fieldlab.evidence.volume_layers import BY_KIND as VOLUME_LAYERS
from fieldlab.evidence.volume_layers import LockedVolume
from fieldlab.locator import Locator, LocatorError
from fieldlab.problems import Problem, ProblemKind

NEEDS_PASSWORD = "needs the exhibit's password"
_RECOVERY_KEY = re.compile(r"(\d{6}-){7}\d{6}")  # a BitLocker recovery key: eight groups of six digits


class ReopenError(EvidenceError):
    """The item cannot be opened again; ``problem`` says what kind of failure and why."""

    def __init__(self, kind: ProblemKind, reason: str) -> None:
        self.problem = Problem(kind, reason)
        super().__init__(self.problem.message)


def stored_spec(source: str, source_kind: str, parents: tuple[str, ...] = (),
                passwords: tuple[str, ...] = ()) -> SourceSpec:
    """The exhibit's ``SourceSpec`` from what the case recorded (its source, kind, and a differencing image's
    parents: ``case.read_rows.recorded_parents``), with the layout the scan gave a folder.  A folder that cannot be
    examined now keeps the plain layout: opening it will say why."""
    unlock = exhibit_unlock(passwords)
    if source_kind == "folder":
        try:
            return describe_source(Path(source), unlock)
        except (SourceError, OSError):
            pass
    return SourceSpec(source, source_kind, unlock, parents=tuple(parents))


def exhibit_unlock(passwords: Sequence[str]) -> UnlockOptions:
    """The passwords an examiner gave for an exhibit (newest first), tried on whatever it holds encrypted: each on
    encrypted archive members and an encrypted backup, the newest on a LUKS or BitLocker volume (as its recovery key
    when it has a recovery key's form).  The examiner types "the exhibit's password" once, whatever locks it."""
    newest = passwords[0] if passwords else None
    recovery = newest if newest is not None and _RECOVERY_KEY.fullmatch(newest.strip()) else None
    return UnlockOptions(bitlocker_password=None if recovery else newest,
                         bitlocker_recovery_key=recovery.strip() if recovery else None,
                         luks_password=newest, archive_passwords=tuple(passwords))


def behind_encryption(locator: Locator | str) -> bool:
    """The item lies in a BitLocker or LUKS volume: it opens only with the volume's password or key."""
    try:
        parsed = locator if isinstance(locator, Locator) else Locator.parse(locator)
    except LocatorError:
        return False
    return any(layer.kind in VOLUME_LAYERS and VOLUME_LAYERS[layer.kind].role == "encryption"
               for layer in parsed.layers)


def _volume_secrets(unlock: UnlockOptions) -> bool:
    return bool(unlock.luks_password or unlock.luks_keys or unlock.bitlocker_password or unlock.bitlocker_recovery_key)


def opened_exhibit(context: EvidenceContext, spec: SourceSpec) -> OpenedExhibit:
    """The evidence, opened once in ``context`` and kept open for the items that follow (a worker's batches, a
    server's thumbnails); ReopenError when it is not reachable."""
    try:
        return context.exhibit(spec)
    except (SourceError, OSError) as exc:
        raise ReopenError(ProblemKind.UNREADABLE, f"the evidence is not reachable: {_reason(exc)}") from None


def reopen(spec: SourceSpec, locator: Locator | str, context: EvidenceContext) -> ItemHandle:
    """The item at ``locator`` of the exhibit ``spec`` describes, in the exhibit as ``context`` holds it open."""
    if not spec.unlock.archive_passwords and _encrypted_file(locator):
        raise ReopenError(ProblemKind.ENCRYPTED, NEEDS_PASSWORD)  # said before the evidence is even opened
    if not _volume_secrets(spec.unlock) and behind_encryption(locator):
        raise ReopenError(ProblemKind.ENCRYPTED, NEEDS_PASSWORD)
    return reopen_item(opened_exhibit(context, spec), locator, spec.unlock.archive_passwords)


def reopen_item(exhibit: OpenedExhibit, locator: Locator | str, passwords: tuple[str, ...] = ()) -> ItemHandle:
    """The item at ``locator`` in the opened ``exhibit``, read-only; ``passwords`` are tried on encrypted members.
    ReopenError, at once, when it cannot be opened."""
    try:
        parsed = locator if isinstance(locator, Locator) else Locator.parse(locator)
    except LocatorError as exc:
        raise ReopenError(ProblemKind.INTERNAL, f"the case's address of this item is not valid: {exc}") from None
    if not passwords and _encrypted_file(parsed):
        raise ReopenError(ProblemKind.ENCRYPTED, NEEDS_PASSWORD)  # a file of an encrypted backup, its key wrapped
    try:
        return open_nested(exhibit.source, parsed, passwords, containers=exhibit.containers)
    except OSError as exc:
        raise _unopened(exc, exc.errno == errno.EACCES and _encrypted_file(parsed)) from None
    except ArchiveError as exc:
        raise ReopenError(exc.kind, str(exc)) from None
    except LockedVolume as exc:  # a file of a BitLocker or LUKS volume its caller gave no key (or a wrong one) for
        raise ReopenError(exc.kind, str(exc) if passwords else NEEDS_PASSWORD) from None
    except LocatorError as exc:
        raise ReopenError(ProblemKind.UNSUPPORTED, f"this exhibit cannot open this address: {_reason(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - hostile evidence: one item fails, the caller goes on
        raise ReopenError(ProblemKind.INTERNAL, f"internal error while opening: {type(exc).__name__}: {exc}") from None


def reopen_folder_file(source: FolderSource, relative: bytes) -> ItemHandle:
    """``reopen_item`` of a folder's own file, by its path below the folder (``locator.file_path``): no locator
    objects on the way, since a reader opens one per file of a folder of a million small files."""
    try:
        return source.open_file(relative)
    except OSError as exc:
        raise _unopened(exc, encrypted=False) from None


def _unopened(exc: OSError, encrypted: bool) -> ReopenError:
    if isinstance(exc, FileNotFoundError):
        return ReopenError(ProblemKind.CHANGED, "vanished since it was listed")
    return ReopenError(ProblemKind.ENCRYPTED if encrypted else ProblemKind.UNREADABLE, f"cannot be opened: {_reason(exc)}")


def _encrypted_file(locator: Locator | str) -> bool:
    """A decrypted file of an encrypted iOS backup: its locator carries the file's key, still wrapped."""
    if isinstance(locator, str):
        return f"|{KEY_LAYER}:" in locator
    return any(layer.kind == KEY_LAYER for layer in locator.layers)


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(text.split())[:300]
