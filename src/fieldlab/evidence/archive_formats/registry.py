"""Every container format in one table: which items are containers, and how their members are listed and opened.

Identification (``kind_from_head``), the readers (``list_members``, ``member_opener``), the nesting rules
(``archive_level``) and the child items' flag all read this table, so a new format is one module of its own plus
one ``ContainerFormat`` line in ``FORMATS``; ``tests/evidence/test_container_registry.py`` fails when a file type
identified as an archive has no line here, or when the README's format list misses a kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator, TypeVar

from fieldlab.detect.filetype import identify
from fieldlab.evidence import heif_members, pdf_members, thumbnail_members
from fieldlab.evidence.archive_formats import rar, sevenzip, streams, tar, zip_archive
from fieldlab.evidence.archives import DAMAGE, ArchiveError, Member, MemberOpener, Passwords
from fieldlab.evidence.item import ItemFlag
from fieldlab.evidence.phone import backup_members
from fieldlab.problems import Problem, ProblemKind

_T = TypeVar("_T")
Lister = Callable[[BinaryIO, Passwords], Iterator[Member | Problem | str]]  # str: damage met while listing
Opening = Callable[[BinaryIO, Passwords], MemberOpener]


@dataclass(frozen=True)
class ContainerFormat:
    kind: str  # how a container is opened; remembered per container to count archive levels
    labels: tuple[str, ...]  # fieldlab.detect.filetype labels identified as this container
    list_members: Lister  # members in directory order, regular files only
    open_members: Opening  # reads the directory once; the opener gives one member's content
    # For containers no file type label names: the kind a head (and name) is, or None. Formats sharing one
    # recogniser are asked once per item (the four thumbnail caches: once, not four times, on every file read).
    recognise: Callable[[bytes, str | None], str | None] | None = None
    child_flag: ItemFlag = ItemFlag.IN_ARCHIVE  # THUMBNAIL: members are pictures a program derived
    archive_level: bool = True  # False: a compressed stream, whose content is its own level (a .tar.gz counts once)
    unread_member: ProblemKind | None = ProblemKind.UNSUPPORTED  # a member listed but not read (not locked, no bomb)
    embedded_media: bool = False  # its bytes are searched for pictures too (what its members do not give)
    exif_thumbnail: Callable[[BinaryIO], tuple[int, int] | None] | None = None  # the run of its EXIF preview


def _thumbnail_cache(kind: str) -> ContainerFormat:
    """An empty cache entry is normal, not a problem; an OLE file without thumbnails is an Office document, whose
    pictures are found by the embedded-media search."""
    return ContainerFormat(
        kind, (), lambda stream, _: thumbnail_members.list_thumbnail_members(stream, kind),
        lambda stream, _: thumbnail_members.thumbnail_opener(stream, kind),
        recognise=thumbnail_members.thumbnail_container,
        child_flag=ItemFlag.THUMBNAIL, unread_member=None, embedded_media=kind == "ole")


FORMATS: tuple[ContainerFormat, ...] = (
    ContainerFormat("zip", ("zip", "ooxml", "odf", "epub"), zip_archive.list_zip, zip_archive.zip_opener),
    ContainerFormat("tar", ("tar",), tar.list_tar, tar.tar_opener),
    *(ContainerFormat(kind, (kind,), streams.stream_lister(kind), streams.stream_opener(kind), archive_level=False)
      for kind in streams.KINDS),
    ContainerFormat("7z", ("7z",), sevenzip.list_7z, sevenzip.sevenzip_opener),
    ContainerFormat("rar", ("rar",), rar.list_rar, rar.rar_opener),
    ContainerFormat(pdf_members.KIND, ("pdf",), pdf_members.list_pdf_members, pdf_members.pdf_opener,
                    unread_member=ProblemKind.LIMIT, embedded_media=True),  # its JPEGs are carved, not rendered
    ContainerFormat(heif_members.KIND, heif_members.FILE_TYPES, lambda stream, _: heif_members.list_heif_members(stream),
                    lambda stream, _: heif_members.heif_opener(stream), child_flag=ItemFlag.THUMBNAIL,
                    unread_member=ProblemKind.LIMIT, exif_thumbnail=heif_members.heif_exif_thumbnail_run),
    ContainerFormat(backup_members.KIND, ("android-backup",), backup_members.list_backup_members,
                    backup_members.backup_opener),
    *(_thumbnail_cache(kind) for kind in thumbnail_members.KINDS),
)
BY_KIND = {container.kind: container for container in FORMATS}
_BY_LABEL = {label: container for container in FORMATS for label in container.labels}
_RECOGNISERS = tuple(dict.fromkeys(container.recognise for container in FORMATS if container.recognise is not None))


def kind_from_head(head: bytes, name: str | None, label: str | None = None) -> str | None:
    """How to open the members of an item: by its file type (``label``, when the caller has it already, else
    identified from ``head``), or by content and name for containers no file type names (thumbnail caches)."""
    container = _BY_LABEL.get(label or identify(head).label)
    if container is not None:
        return container.kind
    for recognise in _RECOGNISERS:
        kind = recognise(head, name)
        if kind in BY_KIND:
            return kind
    return None


def list_members(stream: BinaryIO, kind: str, passwords: Passwords = ()) -> Iterator[Member | Problem | str]:
    """Members in directory order; regular files only (folders and links carry no content of their own).
    An encrypted member that one of ``passwords`` opens carries no problem: it is read like any other."""
    try:
        yield from BY_KIND[kind].list_members(stream, passwords)
    except ArchiveError:
        raise
    except DAMAGE as exc:
        if isinstance(exc, EOFError) or "unexpected end" in str(exc):  # the listing runs off the end of the data
            raise ArchiveError(f"cut short: the {kind} archive ends inside its listing ({exc})",
                               ProblemKind.TRUNCATED) from exc
        raise ArchiveError(f"damaged {kind} archive: {exc}") from exc


def member_opener(stream: BinaryIO, kind: str, passwords: Passwords = ()) -> MemberOpener:
    """Reads the archive's directory once; the opener it returns gives one member's content as a readable stream,
    stopped at its declared size and at ``MAX_MEMBER_BYTES``.

    Parsing the directory per member made a zip of 20,000 members take over ten minutes (each member re-read the
    whole central directory); callers keep the opener for the members that follow.
    """
    opener = _guarded(kind, "open", lambda: BY_KIND[kind].open_members(stream, passwords))
    return lambda index, name: _guarded(kind, f"open member {index} of", lambda: opener(index, name))


def _guarded(kind: str, what: str, call: Callable[[], _T]) -> _T:
    try:
        return call()
    except ArchiveError:
        raise
    except DAMAGE as exc:
        raise ArchiveError(f"cannot {what} the {kind} archive: {exc}") from exc
