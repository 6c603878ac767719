"""Differencing chains made by qemu-img: each child holds only the blocks its layer changed (Debian qemu-utils); a
VDI child, which qemu-img cannot make, is qemu's VDI of the changed blocks with its header made a differencing one."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

SIZE = 32 << 20
BLOCK = 4096
VDI_BLOCK = 1 << 20


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
        if fmt == "vdi":
            vdi_child(images[-1], before, raw.read_bytes(), folder / names[index])
        else:
            parent_name = backing[index - 1] if backing else names[index - 1]
            run("qemu-img", "create", "-q", "-f", fmt, "-b", parent_name, "-F", fmt, names[index], str(SIZE), cwd=folder)
            write_changes(folder / names[index], fmt, before, raw.read_bytes(), work)
        images.append(folder / names[index])
    shutil.rmtree(work)
    return images


def vdi_child(parent: Path, before: bytes, after: bytes, child: Path) -> Path:
    """A differencing VDI over ``parent`` (qemu-img writes none): qemu's VDI of a media holding only the 1 MiB blocks
    that differ between ``before`` and ``after``, made type 4 (differencing) and linked to the parent's identifier.
    A block changed to all zeros would be left unwritten (read from the parent): the layers here never do that."""
    changes = child.with_name(child.name + ".changes")
    with changes.open("wb") as f:
        f.truncate(len(after))
        for offset in range(0, len(after), VDI_BLOCK):
            if before[offset:offset + VDI_BLOCK] != after[offset:offset + VDI_BLOCK]:
                f.seek(offset)
                f.write(after[offset:offset + VDI_BLOCK])
    run("qemu-img", "convert", "-f", "raw", "-O", "vdi", str(changes), str(child))
    changes.unlink()
    data = bytearray(child.read_bytes())
    data[0x4C:0x50] = struct.pack("<I", 4)  # image type: differencing
    data[0x1A8:0x1B8] = parent.read_bytes()[0x188:0x198]  # the parent's identifier, where the child names it
    child.write_bytes(bytes(data))
    return child


def write_changes(image: Path, fmt: str, before: bytes, after: bytes, work: Path) -> None:
    """Write into ``image`` (through qemu-io) only the 4 KiB blocks that differ between ``before`` and ``after``."""
    commands: list[str] = []
    for number, offset in enumerate(o for o in range(0, len(after), BLOCK) if before[o:o + BLOCK] != after[o:o + BLOCK]):
        block = work / f"block{number}"
        block.write_bytes(after[offset:offset + BLOCK])
        commands += ["-c", f"write -q -s {block} {offset} {BLOCK}"]
    if commands:
        run("qemu-io", "-f", fmt, *commands, str(image))
