"""The folder source: every entry recorded, links never followed, hostile names and trees survived."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from fieldlab.evidence import folder as folder_module
from fieldlab.evidence.folder import SourceError, open_beneath, open_root, walk_folder
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
    items, _ = _walk(source)
    assert items[b"escape"].kind is ItemKind.SYMLINK
    assert items[b"escape"].link_target == str(outside)
    assert items[b"d/loop"].kind is ItemKind.SYMLINK
    assert items[b"dangling"].link_target == "/nonexistent/target"
    assert not any(b"secret" in key for key in items)


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
