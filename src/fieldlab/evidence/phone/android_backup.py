"""Android backups (``adb backup``, ``.ab`` files): the header, and the tar inside as a forward-only stream.

The format, as Android's backup manager writes it: text lines, then the payload::

    ANDROID BACKUP
    <version 1-5>
    <compressed: 0 | 1>
    <encryption: none | AES-256>
    # for AES-256 only:
    <user salt, hex> / <master key checksum salt, hex> / <PBKDF2 rounds> / <user IV, hex> / <master key blob, hex>

The payload is a tar, deflated with zlib when compressed, then AES-256-CBC (PKCS#7) under a random master key when
encrypted.  The master key blob holds the master IV, the master key and a checksum of the key, each prefixed by
its length, encrypted under PBKDF2-HMAC-SHA1(password, user salt, rounds).  The checksum is PBKDF2 again, of the
master key with the checksum salt: from version 2 on Android feeds the key's bytes in as Java chars, so every
byte >= 0x80 becomes U+FF80..U+FFFF and goes in as three bytes of UTF-8; version 1 fed the raw bytes.  Tools try
both, and so do we: a backup's version does not always say which one its phone used.

Backups run to gigabytes, so nothing here holds more than a chunk: the payload is read, decrypted and inflated
``CHUNK`` bytes at a time.  Every number the file gives is bounded: header lines, PBKDF2 rounds and the bytes the
tar expands to.  A stream that ends early delivers every byte it could recover, then raises ``AndroidBackupError``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Iterator, Sequence

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fieldlab.evidence.archives import MAX_MEMBER_BYTES, ArchiveError
from fieldlab.problems import ProblemKind

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MAGIC = b"ANDROID BACKUP"
VERSIONS = range(1, 6)
MAX_LINE = 512  # the longest line Android writes is the 96-byte master key blob: 192 hex digits
MAX_HEADER_BYTES = 9 * (MAX_LINE + 1)
# Android has always written 10,000 rounds.  A million is a hundred times that and costs about half a second per
# password on one core; beyond it a forged header would make every password tried take minutes.
MAX_ROUNDS = 1_000_000
MAX_TAR_BYTES = MAX_MEMBER_BYTES
CHUNK = 1 << 20
_BLOCK = 16


class AndroidBackupError(ArchiveError):
    """The backup cannot be opened or read to its end; the message says why, for the examiner."""


@dataclass(frozen=True)
class AndroidBackupHeader:
    version: int
    compressed: bool
    encryption: str  # "none" | "AES-256"
    user_salt: bytes | None = None  # the AES-256 fields, as the header gives them; None when not encrypted
    checksum_salt: bytes | None = None
    rounds: int | None = None
    user_iv: bytes | None = None
    master_key_blob: bytes | None = None
    data_offset: int = 0  # where the payload starts in the file

    @property
    def encrypted(self) -> bool:
        return self.encryption != "none"


def read_header(stream: BinaryIO) -> AndroidBackupHeader:
    """The header, read from the start of ``stream`` wherever it is positioned."""
    stream.seek(0)
    lines = _HeaderLines(_read_up_to(stream, MAX_HEADER_BYTES))
    if not lines.head.startswith(MAGIC + b"\n"):
        raise AndroidBackupError("not an Android backup: the file does not start with 'ANDROID BACKUP'")
    lines.next("signature")
    version = _version(lines.next("version"))
    compressed = lines.next("compression flag")
    if compressed not in (b"0", b"1"):
        raise AndroidBackupError(f"damaged Android backup header: compression flag {compressed[:40]!r}, not 0 or 1")
    encryption = lines.next("encryption")
    if encryption == b"none":
        return AndroidBackupHeader(version, compressed == b"1", "none", data_offset=lines.offset)
    if encryption != b"AES-256":
        raise AndroidBackupError(f"Android backup encrypted with {encryption[:40]!r}: only AES-256 is known",
                                 ProblemKind.UNSUPPORTED)
    user_salt = _hex(lines.next("user salt"), "user salt")
    checksum_salt = _hex(lines.next("checksum salt"), "checksum salt")
    rounds = _rounds(lines.next("PBKDF2 rounds"))
    user_iv = _hex(lines.next("user IV"), "user IV")
    blob = _hex(lines.next("master key blob"), "master key blob")
    if len(user_iv) != _BLOCK:
        raise AndroidBackupError(f"damaged Android backup header: the user IV is {len(user_iv)} bytes, not 16")
    if len(blob) % _BLOCK:
        raise AndroidBackupError(f"damaged Android backup header: the master key blob is {len(blob)} bytes, "
                                 "not whole AES blocks")
    return AndroidBackupHeader(version, compressed == b"1", "AES-256", user_salt, checksum_salt, rounds, user_iv,
                               blob, lines.offset)


def open_backup_tar(stream: BinaryIO, passwords: Sequence[str] = (), max_bytes: int = MAX_TAR_BYTES) -> io.RawIOBase:
    """The tar inside the backup as a readable, forward-only stream (for ``tarfile.open(mode="r|")``).

    ``stream`` must be seekable; it stays open and the caller's (the reader keeps its own position in it).  Each of
    ``passwords`` is tried on an encrypted backup; a wrong one is found here, before any byte is read.  Reading
    raises ``AndroidBackupError`` once the tar passes ``max_bytes``, or where the backup proves truncated or
    damaged, in both cases after delivering every byte recovered before that point.
    """
    header = read_header(stream)
    chunks = _payload(stream, header.data_offset)
    if header.encrypted:
        key, iv = _master_key(header, passwords)
        chunks = _decrypted(chunks, key, iv)
    if header.compressed:
        chunks = _inflated(chunks)
    return _ForwardStream(_bounded(chunks, max_bytes))


# header --------------------------------------------------------------------------------------


class _HeaderLines:
    def __init__(self, head: bytes) -> None:
        self.head, self.offset = head, 0

    def next(self, what: str) -> bytes:
        end = self.head.find(b"\n", self.offset, self.offset + MAX_LINE + 1)
        if end < 0:
            if len(self.head) - self.offset <= MAX_LINE and len(self.head) < MAX_HEADER_BYTES:
                raise AndroidBackupError(f"truncated Android backup: the file ends inside its header "
                                         f"(at the {what}, {len(self.head)} bytes in)", ProblemKind.TRUNCATED)
            raise AndroidBackupError(f"damaged Android backup header: the {what} line runs past {MAX_LINE} bytes")
        line, self.offset = self.head[self.offset:end], end + 1
        return line


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    parts, got = [], 0
    while got < size and (part := stream.read(size - got)):
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _version(line: bytes) -> int:
    if not line.isdigit() or len(line) > 9:
        raise AndroidBackupError(f"damaged Android backup header: version {line[:40]!r} is not a number")
    if int(line) not in VERSIONS:
        raise AndroidBackupError(f"Android backup version {int(line)}: this reader knows versions "
                                 f"{VERSIONS.start} to {VERSIONS.stop - 1}", ProblemKind.UNSUPPORTED)
    return int(line)


def _rounds(line: bytes) -> int:
    if not line.isdigit() or len(line) > 12 or int(line) == 0:
        raise AndroidBackupError(f"damaged Android backup header: PBKDF2 rounds {line[:40]!r} is not a positive number")
    return int(line)


def _hex(line: bytes, what: str) -> bytes:
    try:
        value = bytes.fromhex(line.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        value = b""
    if not value:
        raise AndroidBackupError(f"damaged Android backup header: the {what} {line[:40]!r} is not hex")
    return value


# keys ----------------------------------------------------------------------------------------


def _master_key(header: AndroidBackupHeader, passwords: Sequence[str]) -> tuple[bytes, bytes]:
    """The master key and IV the payload is encrypted with, unwrapped with the first password that fits."""
    assert header.user_salt and header.checksum_salt and header.rounds and header.user_iv and header.master_key_blob
    if not passwords:
        raise AndroidBackupError("encrypted Android backup: no password given (its owner chose one on the phone "
                                 "when making the backup)", ProblemKind.ENCRYPTED)
    if header.rounds > MAX_ROUNDS:
        raise AndroidBackupError(f"encrypted Android backup asks for {header.rounds:,} PBKDF2 rounds, over the "
                                 f"{MAX_ROUNDS:,} this reader allows (Android writes 10,000): refused, as each "
                                 "password would take minutes to try", ProblemKind.LIMIT)
    for password in passwords:
        for secret in _password_bytes(password):
            user_key = hashlib.pbkdf2_hmac("sha1", secret, header.user_salt, header.rounds, 32)
            unwrapped = _unwrap(user_key, header.user_iv, header.master_key_blob)
            if unwrapped is None:
                continue
            master_iv, master_key, checksum = unwrapped
            for key_as_given in _checksum_inputs(master_key):
                expected = hashlib.pbkdf2_hmac("sha1", key_as_given, header.checksum_salt, header.rounds,
                                               len(checksum))
                if hmac.compare_digest(expected, checksum):
                    return master_key, master_iv
    tried = "the password given does not" if len(passwords) == 1 else f"none of the {len(passwords)} passwords given"
    raise AndroidBackupError(f"wrong password: {tried} open this encrypted Android backup", ProblemKind.ENCRYPTED)


def _password_bytes(password: str) -> list[bytes]:
    """UTF-8, as Android from version 2 on; and each char's low byte, as version 1 (they differ past ASCII only)."""
    utf8, low_bytes = password.encode("utf-8", "surrogatepass"), bytes(ord(c) & 0xFF for c in password)
    return [utf8] if utf8 == low_bytes else [utf8, low_bytes]


def _checksum_inputs(master_key: bytes) -> list[bytes]:
    """The master key as Android's checksum saw it: Java chars (a signed byte widened) as UTF-8, then raw bytes."""
    as_java_chars = "".join(chr(b if b < 0x80 else 0xFF00 | b) for b in master_key).encode("utf-8")
    return [as_java_chars, master_key]


def _unwrap(user_key: bytes, user_iv: bytes, blob: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(master IV, master key, checksum) from the blob; None when the user key is not the one it was made with."""
    decryptor = Cipher(algorithms.AES(user_key), modes.CBC(user_iv)).decryptor()
    plain = _unpadded(decryptor.update(blob) + decryptor.finalize())
    if plain is None:
        return None
    fields, at = [], 0
    for _ in range(3):
        length = plain[at] if at < len(plain) else 0
        if length == 0 or at + 1 + length > len(plain):
            return None
        fields.append(plain[at + 1:at + 1 + length])
        at += 1 + length
    master_iv, master_key, checksum = fields
    if len(master_iv) != _BLOCK or len(master_key) != 32:
        return None
    return master_iv, master_key, checksum


def _unpadded(plain: bytes) -> bytes | None:
    pad = plain[-1] if plain else 0
    if not 1 <= pad <= _BLOCK or plain[-pad:] != bytes([pad]) * pad:
        return None
    return plain[:-pad]


# the payload, chunk by chunk -----------------------------------------------------------------


def _payload(stream: BinaryIO, offset: int) -> Iterator[bytes]:
    """The file from ``offset`` on; seeks before each read, so others may use the same stream meanwhile."""
    while True:
        stream.seek(offset)
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        offset += len(chunk)
        yield chunk


def _decrypted(chunks: Iterator[bytes], key: bytes, iv: bytes) -> Iterator[bytes]:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    held, read = b"", 0  # the last block is held back: it carries the padding
    for chunk in chunks:
        read += len(chunk)
        plain = held + decryptor.update(chunk)
        held = plain[-_BLOCK:]
        if plain[:-_BLOCK]:
            yield plain[:-_BLOCK]
    whole_blocks = read % _BLOCK == 0
    unpadded = _unpadded(held) if whole_blocks else None
    if unpadded is not None:
        if unpadded:
            yield unpadded
        return
    yield held  # damaged or cut short: still the examiner's bytes
    raise AndroidBackupError(f"truncated or damaged Android backup: the encrypted data ends after {read:,} bytes "
                             "without the end-of-data padding", ProblemKind.TRUNCATED)


def _inflated(chunks: Iterator[bytes]) -> Iterator[bytes]:
    inflater, produced = zlib.decompressobj(), 0
    try:
        for chunk in chunks:
            data = chunk
            while True:
                out = inflater.decompress(data, CHUNK)  # bounded output: a chunk may hold a bomb
                if out:
                    produced += len(out)
                    yield out
                data = inflater.unconsumed_tail
                if inflater.eof or (not data and len(out) < CHUNK):
                    break
            if inflater.eof:
                return  # Android writes nothing after the compressed stream
    except zlib.error as exc:
        raise AndroidBackupError(f"damaged Android backup: the compressed data is corrupt after {produced:,} bytes "
                                 f"of tar ({exc})") from exc
    raise AndroidBackupError(f"truncated Android backup: the compressed data ends early, after {produced:,} bytes "
                             "of tar", ProblemKind.TRUNCATED)


def _bounded(chunks: Iterator[bytes], limit: int) -> Iterator[bytes]:
    produced = 0
    for chunk in chunks:
        if produced + len(chunk) > limit:
            yield chunk[:limit - produced]
            raise AndroidBackupError(f"Android backup expands past {limit:,} bytes: stopped (a decompression bomb, "
                                     "or a backup larger than the limit)", ProblemKind.BOMB)
        produced += len(chunk)
        yield chunk


class _ForwardStream(io.RawIOBase):
    """Bytes from a chunk iterator; an error it raises comes only once every byte before it has been read, and
    stays: every later read raises it again."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._pending, self._position = chunks, memoryview(b""), 0
        self._failure: Exception | None = None

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)
        if self.closed:
            raise ValueError("read from a closed Android backup stream")
        while not self._pending:
            if self._failure is not None:
                raise self._failure
            try:
                chunk = next(self._chunks, None)
            except Exception as exc:  # a failed generator is finished: without this, the next read would be a clean end
                self._failure = exc
                raise
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending, self._position = self._pending[count:], self._position + count
        return count

    def close(self) -> None:
        if not self.closed:
            self._chunks.close()  # type: ignore[attr-defined]  # a generator: ends the pipeline
        super().close()
