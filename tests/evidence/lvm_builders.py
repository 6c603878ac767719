"""LVM2 volume groups built by lvm2's own tools, for tests: physical volumes are files attached to loop devices, the
groups and logical volumes made with no device-mapper activation (``--driverloaded n``, ``-an -Zn``), and the host's
LVM configuration, device cache, hints and metadata backups kept out (``--config``).  A logical volume's content is
written into its extents afterwards, where ``lvs`` says they lie."""

from __future__ import annotations

import os
import subprocess
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

MIB = 1024 * 1024

_CONFIG = ('devices { filter=["a|^/dev/loop[0-9]+$|","r|.*|"] use_devicesfile=0 hints="none" '
           'obtain_device_list_from_udev=0 } backup { backup=0 archive=0 } '
           'activation { udev_sync=0 udev_rules=0 monitoring=0 } global { locking_dir="%s" }')


@dataclass(frozen=True)
class Extents:
    """One run of a logical volume: ``length`` bytes at ``offset`` of physical volume file ``pv``, holding the logical
    volume's bytes from ``start`` (a striped segment gives one run per stripe, each with the segment's ``start``)."""

    pv: int
    offset: int
    start: int
    length: int


def build_volume_group(files: Sequence[Path], size_mib: int, logical_volumes: Sequence[tuple[str, int]], *,
                       group: str = "vg", removed: Sequence[str] = (), striped: str = "") -> dict[str, list[Extents]]:
    """Physical volumes of ``size_mib`` each in ``files`` (made here), one group of 1 MiB extents over them, its
    logical volumes (name, MiB) made in order, then those named in ``removed`` removed again (their extents keep what
    is written there).  The one named ``striped`` is striped over every physical volume in 64 KiB chunks.  Returns
    each logical volume's runs (a removed one's too), in logical volume order."""
    env = {**os.environ, "LVM_SUPPRESS_FD_WARNINGS": "1"}
    with ExitStack() as attached:
        config = _CONFIG % attached.enter_context(tempfile.TemporaryDirectory(prefix="lvm-locks-"))
        devices = []
        for file in files:
            with open(file, "wb") as out:
                out.truncate(size_mib * MIB)
            device = _run(["losetup", "--find", "--show", str(file)], env).strip()
            attached.callback(_run, ["losetup", "--detach", device], env)
            devices.append(device)

        def lvm(*args: str) -> str:
            return _run(["lvm", args[0], "--config", config, *args[1:]], env)

        lvm("pvcreate", "-q", *devices)
        lvm("vgcreate", "-q", "-s", "1m", group, *devices)
        for name, mib in logical_volumes:
            stripes = ["-i", str(len(files)), "-I", "64k"] if name == striped else []
            lvm("lvcreate", "-q", "--driverloaded", "n", "-an", "-Zn", *stripes, "-L", f"{mib}m", "-n", name, group)
        pe_start = {line.split()[0]: int(line.split()[1]) for line in lvm(
            "pvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "pv_name,pe_start").splitlines()}
        runs: dict[str, list[Extents]] = {}
        for line in lvm("lvs", "--noheadings", "--driverloaded", "n", "-o", "lv_name,seg_start_pe,seg_pe_ranges",
                        group).splitlines():
            name, first, *ranges = line.split()
            for listed in ranges:
                device, span = listed.split(":")
                low, high = (int(n) for n in span.split("-"))
                runs.setdefault(name, []).append(Extents(devices.index(device), pe_start[device] + low * MIB,
                                                         int(first) * MIB, (high - low + 1) * MIB))
        for name in removed:
            lvm("lvremove", "-q", "-f", "--driverloaded", "n", f"{group}/{name}")
    return {name: sorted(found, key=lambda run: run.start) for name, found in runs.items()}


def write_logical_volume(files: Sequence[Path], runs: Sequence[Extents], data: bytes) -> None:
    """``data`` as the logical volume's bytes from its first, written into its extents of the physical volume files."""
    for run in runs:
        part = data[run.start:run.start + run.length]
        if part:
            with open(files[run.pv], "r+b") as out:
                out.seek(run.offset)
                out.write(part)


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, check=False, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr.strip()[-800:]}")
    return done.stdout
