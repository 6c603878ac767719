"""A WOF-compressed ("Compact OS") NTFS file's content, decompressed from its ``WofCompressedData`` stream.

Why: Windows compresses its system binaries this way by default, and a user can compress any folder with
``compact /c /exe:lzx``.  The unnamed $DATA of such a file is sparse (The Sleuth Kit reads zeros); its content is
the stream: a table of where each chunk after the first starts (4-byte entries, 8-byte for a file of 4 GiB or
more), then the chunks, each the algorithm's output for one chunk of the file, or stored as it is when it did not
shrink (its compressed size equals its size).  XPRESS4K/8K/16K (LZXPRESS Huffman, MS-XCA) and LZX (32 KiB chunks)
are decompressed by libfwnt (``pyfwnt``).

The stream is suspect-controlled: the table must fit in the stream (a table claiming 10^9 chunks is refused before
anything is read) and at most ``MAX_TABLE_BYTES``; each chunk must lie inside the stream and be no larger than its
unit; a chunk that does not decompress to exactly its unit is damage.  Every refusal is a ``ReparseError`` of its
kind, recorded against the item: never a hash of zeros.
"""

from __future__ import annotations

import sys
from array import array
from typing import Callable

import pyfwnt

from fieldlab.evidence.ntfs_reparse import ReparseError, WofFormat
from fieldlab.problems import ProblemKind

MAX_TABLE_BYTES = 16 << 20  # 4 million chunks (a 16 GiB file in XPRESS4K, 128 GiB in LZX): held while it is read
_LARGE_FILE = 1 << 32  # from this size on, the table's entries are 8 bytes

ReadStream = Callable[[int, int], bytes]  # (offset, size) of the WofCompressedData stream -> bytes


class WofContent:
    """The decompressed content of ``size`` bytes, from the stream of ``stream_size`` bytes ``read_stream`` reads.
    The chunk last decompressed is kept: the digest reads in pieces smaller than an LZX chunk."""

    def __init__(self, read_stream: ReadStream, stream_size: int, size: int, form: WofFormat) -> None:
        self.size, self._read_stream, self._form = size, read_stream, form
        self._chunks = -(-size // form.chunk_size)
        entry = 8 if size >= _LARGE_FILE else 4
        table = max(self._chunks - 1, 0) * entry
        if table > stream_size:
            raise ReparseError(f"WOF {form.name}: a table of {self._chunks:,} chunks does not fit in the "
                               f"{stream_size:,}-byte compressed stream")
        if table > MAX_TABLE_BYTES:
            raise ReparseError(f"WOF {form.name}: {self._chunks:,} chunks, more than fieldlab reads "
                               f"({MAX_TABLE_BYTES // entry:,})", ProblemKind.LIMIT)
        raw = read_stream(0, table) if table else b""
        if len(raw) != table:
            raise ReparseError(f"WOF {form.name}: the chunk table reads {len(raw):,} of {table:,} bytes",
                               ProblemKind.TRUNCATED)
        self._starts = array("Q" if entry == 8 else "I", raw)  # where chunks 1.. start; chunk 0 at 0
        if sys.byteorder == "big":
            self._starts.byteswap()
        self._table, self._data_size = table, stream_size - table
        self._held: tuple[int, bytes] = (-1, b"")

    def read(self, offset: int, size: int) -> bytes:
        unit = self._form.chunk_size
        parts, end = [], min(offset + size, self.size)
        while offset < end:
            index = offset // unit
            chunk = self._chunk(index)
            start = offset - index * unit
            parts.append(chunk[start:start + end - offset])
            offset += len(parts[-1])
        return b"".join(parts)

    def _chunk(self, index: int) -> bytes:
        if self._held[0] == index:
            return self._held[1]
        unit = self._form.chunk_size
        expected = min(unit, self.size - index * unit)
        start = self._starts[index - 1] if index else 0
        stop = self._starts[index] if index + 1 < self._chunks else self._data_size
        if not 0 <= start < stop <= self._data_size or stop - start > expected:
            raise ReparseError(f"WOF {self._form.name}: chunk {index} claims bytes {start:,}-{stop:,} of a "
                               f"{self._data_size:,}-byte stream, for {expected:,} bytes of content")
        stored = self._read_stream(self._table + start, stop - start)
        if len(stored) != stop - start:
            raise ReparseError(f"WOF {self._form.name}: chunk {index} reads {len(stored):,} of {stop - start:,} "
                               "bytes", ProblemKind.TRUNCATED)
        content = stored if len(stored) == expected else self._decompressed(stored, expected, index)
        self._held = (index, content)
        return content

    def _decompressed(self, stored: bytes, expected: int, index: int) -> bytes:
        decompress = pyfwnt.lzx_decompress if self._form.name == "LZX" else pyfwnt.lzxpress_huffman_decompress
        try:
            content = decompress(stored, expected)
        except (OSError, ValueError) as exc:
            raise ReparseError(f"WOF {self._form.name}: chunk {index} does not decompress: "
                               f"{str(exc).split('. ')[-1]}") from None
        if len(content) != expected:
            raise ReparseError(f"WOF {self._form.name}: chunk {index} decompresses to {len(content):,} bytes, "
                               f"not {expected:,}")
        return bytes(content)
