"""The folder source: every entry recorded, links never followed, hostile names and trees survived."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from fieldlab.evidence import folder as folder_module
from fieldlab.evidence.folder import LINK_NOT_READ, LinkReading, SourceError, open_beneath, open_root, walk_folder
from fieldlab.evidence.item import Item, ItemKind, WalkError


def _walk(root: Path) -> tuple[dict[bytes, Item], list[WalkError]]:
    items, errors = {}, []
    for entry in walk_folder(root):
        if isinstance(entry, WalkError):
            errors.append(entry)
        else:
            items[entry.locator.layers[0].value] = entry
    return items, errors


def test_every_regular_file_becomes_an_item_including_empty_ones(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.jpg").write_bytes(b"\xff\xd8\xff" + b"0" * 100)
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "top.txt").write_text("hello")
    items, errors = _walk(tmp_path)
    assert set(items) == {b"a/b/x.jpg", b"empty", b"top.txt"}
    assert items[b"empty"].size == 0 and items[b"empty"].kind is ItemKind.FILE
    assert items[b"a/b/x.jpg"].size == 103
    assert errors == []


def test_symlinks_are_recorded_with_their_target_and_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not evidence")
    source = tmp_path / "src"
    (source / "d").mkdir(parents=True)
    os.symlink(outside, source / "escape")  # a link out of the source
    os.symlink("..", source / "d" / "loop")  # a link loop
    os.symlink("/nonexistent/target", source / "dangling")
    for link in (source / "escape", source / "d" / "loop", source / "dangling"):
        _as_if_read_just_now(link)
    items, _ = _walk(source)
    assert items[b"escape"].kind is ItemKind.SYMLINK
    assert items[b"escape"].link_target == str(outside)
    assert items[b"d/loop"].kind is ItemKind.SYMLINK
    assert items[b"dangling"].link_target == "/nonexistent/target"
    assert not any(b"secret" in key for key in items)


def _as_if_read_just_now(link: Path) -> None:
    """A link read since its last change, as a relatime mount leaves it for a day: reading it again changes
    nothing, so its target is read (a fresh link's first reading would set its access time)."""
    os.utime(link, ns=(time.time_ns() + 60 * 10**9, 0), follow_symlinks=False)


def _mount_flags(path: Path) -> int:
    flags = os.statvfs(path).f_flag
    assert flags & (os.ST_RELATIME | os.ST_NOATIME | os.ST_RDONLY), "tests expect a relatime, noatime or ro tmp"
    return flags


def test_reading_links_never_changes_their_access_time(tmp_path: Path) -> None:
    """The kernel updates a link's access time when its target is read (no O_NOATIME for readlink): a link that
    reading would change keeps its time and its target is recorded as not read, on the real mount of tmp_path."""
    day = 24 * 3600 * 10**9
    os.symlink("fresh-target", tmp_path / "fresh")  # never read: its access time equals its change time
    os.symlink("old-target", tmp_path / "old")
    os.utime(tmp_path / "old", ns=(time.time_ns() - 3 * day, time.time_ns() - 5 * day), follow_symlinks=False)
    os.symlink("recent-target", tmp_path / "recent")
    _as_if_read_just_now(tmp_path / "recent")
    before = {name: os.lstat(tmp_path / name).st_atime_ns for name in ("fresh", "old", "recent")}
    items, _ = _walk(tmp_path)
    assert {name: os.lstat(tmp_path / name).st_atime_ns for name in before} == before
    silent_mount = bool(_mount_flags(tmp_path) & (os.ST_NOATIME | os.ST_RDONLY))
    for name in ("fresh", "old"):
        assert items[name.encode()].link_target == (f"{name}-target" if silent_mount else LINK_NOT_READ)
    assert items[b"recent"].link_target == "recent-target"


def _link_stat(atime_s: float, mtime_s: float, ctime_s: float) -> os.stat_result:
    return os.stat_result((0o120777, 0, 0, 1, 0, 0, 5, int(atime_s), int(mtime_s), int(ctime_s),
                           atime_s, mtime_s, ctime_s, int(atime_s * 1e9), int(mtime_s * 1e9), int(ctime_s * 1e9)))


def test_links_are_read_only_where_the_mount_leaves_their_access_time_alone() -> None:
    now, hour, day = 1_000_000_000.0, 3600.0, 86400.0
    read_since_change = _link_stat(now - hour, now - 2 * day, now - 2 * day)
    never_read = _link_stat(now - 2 * day, now - 2 * day, now - 2 * day)
    read_long_ago = _link_stat(now - 2 * day, now - 3 * day, now - 3 * day)
    at = int(now * 1e9)
    for flags in (os.ST_RDONLY, os.ST_NOATIME, os.ST_RDONLY | os.ST_RELATIME):
        assert all(LinkReading(flags, at).leaves_atime(st) for st in (read_since_change, never_read, read_long_ago))
    relatime = LinkReading(os.ST_RELATIME, at)
    assert relatime.leaves_atime(read_since_change)
    assert not relatime.leaves_atime(never_read) and not relatime.leaves_atime(read_long_ago)
    assert not LinkReading(0, at).leaves_atime(read_since_change)  # strictatime: every reading updates it


def test_fifos_and_sockets_are_recorded_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        items, _ = _walk(tmp_path)
    finally:
        sock.close()
    assert items[b"pipe"].kind is ItemKind.SPECIAL
    assert items[b"sock"].kind is ItemKind.SPECIAL


def test_names_that_are_not_utf8_or_hold_newlines_and_dots_round_trip(tmp_path: Path) -> None:
    root = os.fsencode(tmp_path)
    names = [b"caf\xe9.jpg", b"line\nbreak.jpg", b"..%2F..%2Fetc", b"-rf", b"=cmd|' -C calc'!A0.csv", b"\x1b[31mred"]
    for name in names:
        with open(root + b"/" + name, "wb") as f:
            f.write(name)
    items, errors = _walk(tmp_path)
    assert set(items) == set(names)
    assert errors == []
    for name, item in items.items():
        assert "\n" not in item.path and "\x1b" not in item.path
        root_fd = open_root(tmp_path)
        fd = open_beneath(root_fd, item.locator.layers[0].value)
        try:
            assert os.read(fd, 100) == name  # the locator re-opens exactly this file
        finally:
            os.close(fd)
            os.close(root_fd)


def test_a_tree_deeper_than_path_max_is_walked(tmp_path: Path) -> None:
    depth, segment = 400, b"d" * 20  # 400 * 21 bytes is over Linux's 4096-byte PATH_MAX
    fd = os.open(tmp_path, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir(segment, dir_fd=fd)
        next_fd = os.open(segment, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = next_fd
    leaf = os.open(b"deep.jpg", os.O_WRONLY | os.O_CREAT, dir_fd=fd)
    os.write(leaf, b"deep")
    os.close(leaf)
    os.close(fd)
    items, errors = _walk(tmp_path)
    (key,) = items
    assert key.count(b"/") == depth and key.endswith(b"deep.jpg")
    root_fd = open_root(tmp_path)
    fd = open_beneath(root_fd, key)
    assert os.read(fd, 10) == b"deep"
    os.close(fd)
    os.close(root_fd)


def test_unreadable_folder_is_an_error_and_the_walk_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "x").write_text("x")
    (tmp_path / "open.txt").write_text("y")
    real_open = folder_module.open_noatime

    def refuse_locked(name, flags, dir_fd=None):  # tests run as root, which chmod cannot lock out
        if name == b"locked":
            raise PermissionError(13, "Permission denied")
        return real_open(name, flags, dir_fd)

    monkeypatch.setattr(folder_module, "open_noatime", refuse_locked)
    items, errors = _walk(tmp_path)
    assert b"open.txt" in items
    assert [e.path for e in errors] == ["locked"]
    assert "Permission denied" in errors[0].message


def test_user_picture_folders_are_walked_before_system_folders(tmp_path: Path) -> None:
    for folder in ("Windows/System32", "Program Files/App", "Users/alex/Pictures", "aaa"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "f.bin").write_bytes(b"x")
    order = [e.path for e in walk_folder(tmp_path) if isinstance(e, Item)]
    assert order.index("Users/alex/Pictures/f.bin") < order.index("aaa/f.bin") < order.index("Windows/System32/f.bin")


def test_path_components_that_leave_the_source_are_refused(tmp_path: Path) -> None:
    (tmp_path / "inside").write_text("in")
    root_fd = open_root(tmp_path)
    try:
        with pytest.raises(PermissionError):
            open_beneath(root_fd, b"../inside")
        os.symlink("/etc", tmp_path / "link")
        with pytest.raises(OSError):
            open_beneath(root_fd, b"link/passwd")
    finally:
        os.close(root_fd)


def test_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        list(walk_folder(tmp_path / "nope"))
