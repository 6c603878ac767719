"""Small generated evidence and hash sets for tests."""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KnownFile:
    relative: str
    data: bytes
    category: str

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data).hexdigest()

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.data).hexdigest()


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def write_csv_hashset(path: Path, known: list[KnownFile], extra: int = 0) -> Path:
    lines = ["md5,sha1,category"]
    lines += [f"{k.md5},{k.sha1},{k.category}" for k in known]
    lines += [f"{hashlib.md5(str(n).encode()).hexdigest()},,C" for n in range(extra)]
    path.write_text("\n".join(lines) + "\n")
    return path


def tar_bytes(entries: dict[str, bytes]) -> bytes:
    """A plain tar of ``entries`` (member name -> content), in order, as tests pack evidence."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()

