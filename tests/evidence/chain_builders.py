"""Differencing chains made by qemu-img: each child holds only the blocks its layer changed (Debian qemu-utils)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SIZE = 32 << 20
BLOCK = 4096


def run(*args: str, cwd: Path | None = None) -> None:
    if shutil.which(args[0]) is None:
        raise RuntimeError(f"{args[0]} not found: install the qemu-utils / dosfstools / mtools package")
    result = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=cwd)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")


def add_files(raw: Path, files: dict[str, bytes], work: Path) -> None:
    """Copy ``files`` (8.3 names) into the FAT volume ``raw`` with mtools."""
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "MTOOLSRC": os.devnull}
    for name, data in files.items():
        staged = work / name
        staged.write_bytes(data)
        result = subprocess.run(["mcopy", "-i", str(raw), str(staged), f"::/{name}"], capture_output=True,
                                text=True, stdin=subprocess.DEVNULL, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"mcopy failed: {result.stderr}")
        staged.unlink()


def chain(folder: Path, fmt: str, layers: list[dict[str, bytes]], names: list[str] | None = None,
          backing: list[str] | None = None) -> list[Path]:
    """A FAT volume built layer by layer: ``layers[0]``'s files in the base image, each later layer's in a child
    whose parent is the layer before.  Returns the images, base first.  ``backing[i]`` is the parent name written
    into layer i+1 (default: the parent's file name); ``names`` the file names (default layer0.<fmt>...)."""
    folder.mkdir(parents=True, exist_ok=True)
    work = folder.parent / f".{folder.name}-work"
    work.mkdir(exist_ok=True)
    names = names or [f"layer{i}.{fmt}" for i in range(len(layers))]
    raw = work / "volume.raw"
    with raw.open("wb") as f:
        f.truncate(SIZE)
    run("mkfs.fat", "-F", "16", "-n", "CHAIN", str(raw))
    add_files(raw, layers[0], work)
    run("qemu-img", "convert", "-f", "raw", "-O", fmt, str(raw), str(folder / names[0]))
    images = [folder / names[0]]
    for index, files in enumerate(layers[1:], start=1):
        before = raw.read_bytes()
        add_files(raw, files, work)
        parent_name = backing[index - 1] if backing else names[index - 1]
        run("qemu-img", "create", "-q", "-f", fmt, "-b", parent_name, "-F", fmt, names[index], str(SIZE), cwd=folder)
        write_changes(folder / names[index], fmt, before, raw.read_bytes(), work)
        images.append(folder / names[index])
    shutil.rmtree(work)
    return images


def write_changes(image: Path, fmt: str, before: bytes, after: bytes, work: Path) -> None:
    """Write into ``image`` (through qemu-io) only the 4 KiB blocks that differ between ``before`` and ``after``."""
    commands: list[str] = []
    for number, offset in enumerate(o for o in range(0, len(after), BLOCK) if before[o:o + BLOCK] != after[o:o + BLOCK]):
        block = work / f"block{number}"
        block.write_bytes(after[offset:offset + BLOCK])
        commands += ["-c", f"write -q -s {block} {offset} {BLOCK}"]
    if commands:
        run("qemu-io", "-f", fmt, *commands, str(image))
