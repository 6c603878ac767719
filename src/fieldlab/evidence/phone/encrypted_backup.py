"""Encrypted iTunes/Finder backups (iOS 10.2 and later) as a source, read with the examiner's password.

An encrypted backup is laid out like a plain one (``ios_backup``): ``Info.plist`` names the device in the clear,
but ``Manifest.db`` and every stored file are AES-256 ciphertext, opened through the keys ``backup_keybag`` gets
from ``Manifest.plist`` and the password.  ``Manifest.db`` is AES-256-CBC with a zero IV under the ManifestKey;
each stored file is AES-256-CBC with a zero IV and PKCS#7 padding under its own key, which its record in the
manifest gives (``EncryptionKey``), with the plaintext's ``Size``.

Locators.  A decrypted file is the stored file plus one layer saying how to decrypt it:
``file:0d/0dc926…|ioskey:4:<wrapped key, hex>:633`` (class, the file's key *still wrapped* as the manifest holds it,
and the plaintext size).  The layer carries everything about that one file, so a worker opens any item from its
locator with nothing but the class keys (derived from the password once per process, cached, never written) and
never needs the manifest; the same locator always gives the same bytes, and archive members inside a decrypted file
nest after it as anywhere else.  A wrapped key is worthless without the password: the case learns nothing from it
that the backup does not already hold.  Without a usable password the backup is walked as a plain folder, its stored
files under plain ``file:`` locators (the ciphertext), and a walk error says why.

Everything here is the suspect's: plists and the manifest are bounded, and a stored file is checked against the size
its record gives before a byte of it is trusted.
"""

from __future__ import annotations

import errno
import io
import os
import plistlib
import shutil
import sqlite3
import stat
import tempfile
from pathlib import Path
from typing import Final, Iterator

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fieldlab.evidence.folder import SourceError, open_beneath, open_root
from fieldlab.evidence.item import Item, ItemKind, WalkError
from fieldlab.evidence.phone.backup_keybag import read_manifest_plist, unlock_keybag, unwrap, wrapped_length
from fieldlab.evidence.phone.ios_backup import MAX_RECORDS, BackupError, ManifestRecord, manifest_record
from fieldlab.evidence.priority import LIKELY, NEUTRAL, UNLIKELY
from fieldlab.evidence.sources import FolderSource, ItemHandle
from fieldlab.locator import Locator, LocatorError, display_bytes
from fieldlab.problems import Problem, ProblemKind

LAYOUT = "encrypted-ios-backup"  # SourceSpec.layout of a folder holding an encrypted backup
KEY_LAYER: Final = "ioskey"
MAX_MANIFEST_PLIST = 64 << 20  # it lists the installed apps, with their icons: megabytes, not gigabytes
MAX_MANIFEST_DB = 4 << 30
_BLOCK = 16
_CHUNK = 1 << 20
_SQLITE = b"SQLite format 3\0"
_LIKELY_DOMAINS = ("CameraRollDomain", "MediaDomain")
_UNLIKELY_DOMAINS = ("KeychainDomain", "SystemPreferencesDomain", "WirelessDomain", "ManagedPreferencesDomain",
                     "RootDomain", "DatabaseDomain", "InstallDomain", "KeyboardDomain", "HealthDomain",
                     "SysContainerDomain", "SysSharedContainerDomain")


def is_encrypted_backup(folder: Path) -> bool:
    """Whether ``folder`` holds an iTunes/Finder backup whose Manifest.plist says it is encrypted."""
    try:
        root_fd = open_root(folder)
    except SourceError:  # not a readable folder: open_source says so in the examiner's words
        return False
    try:
        return _is_encrypted(_read_small(root_fd, b"Manifest.plist", MAX_MANIFEST_PLIST))
    except (OSError, BackupError):
        return False
    finally:
        os.close(root_fd)


def _is_encrypted(data: bytes) -> bool:
    try:
        manifest = plistlib.loads(data)
    except Exception:  # noqa: BLE001 - a damaged Manifest.plist: walked as a plain folder, the phone stage says why
        return False
    return isinstance(manifest, dict) and manifest.get("IsEncrypted") is True


def _read_small(dir_fd: int, name: bytes, limit: int) -> bytes:
    fd = open_beneath(dir_fd, name)
    with io.FileIO(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, f"{display_bytes(name)} is not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise BackupError(f"{display_bytes(name)} is larger than {limit >> 20} MiB: not read", ProblemKind.LIMIT)
    return data


# the source ----------------------------------------------------------------------------------------------------


class EncryptedIosBackupSource(FolderSource):
    """A folder holding an encrypted backup.  With its password, every file the manifest names and the backup holds
    is an item under its real ``Domain/relativePath``, read as plaintext; stored files the manifest does not name,
    and the backup's own plists, are listed as in a plain folder.  Files the manifest names but the backup lacks are
    not items: the phone stage records them as referenced, not present, as for a plain backup."""

    def __init__(self, root: Path, passwords: tuple[str, ...] = ()) -> None:
        super().__init__(root)
        self._passwords = passwords
        self._class_keys: dict[int, bytes] | None = None
        self._problem: str | None = None
        self._unlock_tried = False
        self._manifest_key: bytes | None = None
        self._work: Path | None = None
        self._manifest_db: Path | None = None
        self._manifest_problem: BackupError | None = None

    # the keys ---

    def _unlock(self) -> dict[int, bytes] | None:
        """The class keys, derived on first need (not when a worker opens the source only to read plain files)."""
        if self._unlock_tried:
            return self._class_keys
        self._unlock_tried = True
        try:
            encryption = read_manifest_plist(_read_small(self._root_fd, b"Manifest.plist", MAX_MANIFEST_PLIST))
        except OSError as exc:
            self._problem = f"Manifest.plist cannot be read: {exc.strerror or exc}"
            return None
        except BackupError as exc:
            self._problem = str(exc)
            return None
        if encryption is None:
            self._problem = "Manifest.plist no longer says the backup is encrypted"
            return None
        if not self._passwords:
            self._problem = "no password given (--password)"
            return None
        for password in self._passwords:
            self._class_keys = unlock_keybag(encryption.keybag, password)
            if self._class_keys is not None:
                break
        else:
            tried = "the password does not" if len(self._passwords) == 1 else \
                f"none of the {len(self._passwords)} passwords given"
            self._problem = f"{tried} open it"
            return None
        self._manifest_key = encryption.manifest_key
        return self._class_keys

    # the manifest ---

    def decrypted_manifest(self) -> Path:
        """A private plaintext copy of ``Manifest.db`` (removed on close); BackupError when it cannot be had."""
        class_keys = self._unlock()
        if class_keys is None:
            raise BackupError(f"Manifest.db is encrypted and cannot be read: {self._problem}", ProblemKind.ENCRYPTED)
        if self._manifest_db is None and self._manifest_problem is None:  # the walk and the phone stage both ask
            try:
                self._manifest_db = self._decrypt_manifest(class_keys)
            except OSError as exc:
                self._manifest_problem = BackupError(f"Manifest.db cannot be read: {exc.strerror or exc}",
                                                     ProblemKind.UNREADABLE)
            except BackupError as exc:
                self._manifest_problem = exc
        if self._manifest_problem is not None:
            raise BackupError(str(self._manifest_problem), self._manifest_problem.kind)
        assert self._manifest_db is not None, "decrypted, or its problem recorded"
        return self._manifest_db

    def _decrypt_manifest(self, class_keys: dict[int, bytes]) -> Path:
        key = unwrap(class_keys, self._manifest_key, "ManifestKey") if self._manifest_key else None
        self._work = self._work or Path(tempfile.mkdtemp(prefix="fieldlab-ios-backup-"))
        target = self._work / "Manifest.db"
        try:
            _decrypt_database(open_beneath(self._root_fd, b"Manifest.db"), key, target)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target

    # walking and opening ---

    def walk(self) -> Iterator[Item | WalkError]:
        if self._unlock() is None:
            yield WalkError("/", f"encrypted iOS backup: {self._problem}; files are listed by their stored "
                                 "names only, as ciphertext", ProblemKind.ENCRYPTED)
            yield from super().walk()
            return
        claimed: set[bytes] = set()  # stored files listed under their real path; 20 bytes each
        try:
            yield from self._walk_manifest(claimed)
        except (BackupError, sqlite3.Error, OSError) as exc:
            yield WalkError("Manifest.db", f"encrypted iOS backup: {exc}; files not listed by their real path are "
                                           "listed by their stored names", ProblemKind.DAMAGED)
        for entry in super().walk():
            if not (isinstance(entry, Item) and _stored_file_id(entry.path) in claimed):
                yield entry

    def _walk_manifest(self, claimed: set[bytes]) -> Iterator[Item | WalkError]:
        """Files first from the domains likeliest to hold pictures (the camera roll), as a folder walk does."""
        manifest = self.decrypted_manifest()
        connection = sqlite3.connect(f"{manifest.as_uri()}?mode=ro&immutable=1", uri=True)
        connection.create_function("walk_rank", 1, _domain_rank, deterministic=True)
        try:
            listed = 0
            for rank in (LIKELY, NEUTRAL, UNLIKELY):  # a pass each: no sort, no index the suspect's file must have
                rows = connection.execute("SELECT fileID, domain, relativePath, flags, file FROM Files "
                                          "WHERE flags = 1 AND walk_rank(domain) = ?", (rank,))
                for row in rows:
                    record = manifest_record(*row)
                    if record is None or not self._stored(record):
                        continue
                    listed += 1
                    if listed > MAX_RECORDS:
                        raise BackupError(f"more than {MAX_RECORDS:,} files", ProblemKind.LIMIT)
                    shown = display_bytes(record.device_path.encode("utf-8", "surrogateescape"))
                    layer = key_layer(record)
                    if layer is None:
                        yield WalkError(shown, "encrypted iOS backup: the manifest gives no usable key or size for "
                                               f"this file; it is listed as stored, {record.stored_as}",
                                        ProblemKind.DAMAGED)
                        continue
                    claimed.add(bytes.fromhex(record.file_id))
                    yield Item(locator=Locator.for_file(record.stored_as.encode()).child(KEY_LAYER, layer),
                               path=shown, kind=ItemKind.FILE, size=record.size or 0, mtime=record.mtime,
                               btime=record.btime)
        finally:
            connection.close()

    def _stored(self, record: ManifestRecord) -> bool:
        try:
            st = os.stat(record.file_id, dir_fd=self._folder_fd(record.file_id[:2].encode()), follow_symlinks=False)
        except OSError:
            return False
        return stat.S_ISREG(st.st_mode)

    def open_item(self, locator: Locator) -> ItemHandle:
        layers = locator.layers
        if not layers or layers[-1].kind != KEY_LAYER:
            return super().open_item(locator)
        if len(layers) != 2:
            raise LocatorError(f"a decrypted file of an iOS backup is a stored file and its key: {locator}")
        wrapped, size = parse_key_layer(layers[1].value)
        class_keys = self._unlock()
        if class_keys is None:
            raise OSError(errno.EACCES, f"encrypted iOS backup: {self._problem}")
        try:
            file_key = unwrap(class_keys, wrapped, "the file's key")
        except BackupError as exc:
            raise OSError(errno.EIO, str(exc)) from None
        stored = super().open_item(Locator(layers[:1]))
        try:
            return DecryptedFile(stored, file_key, size)
        except BaseException:
            stored.close()
            raise

    def close(self) -> None:
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)
            self._work = self._manifest_db = None
        super().close()


def _domain_rank(domain: object) -> int:
    if not isinstance(domain, str):
        return UNLIKELY
    if domain in _LIKELY_DOMAINS:
        return LIKELY
    return UNLIKELY if domain.startswith(_UNLIKELY_DOMAINS) else NEUTRAL


def _stored_file_id(path: str) -> bytes | None:
    """The fileID of a path shaped like a stored file's (``0d/0dc926…``, 40 hex digits)."""
    if len(path) != 43 or path[2] != "/" or path[:2] != path[3:5]:
        return None
    try:
        return bytes.fromhex(path[3:])
    except ValueError:
        return None


def _decrypt_database(fd: int, key: bytes | None, target: Path) -> None:
    """``Manifest.db`` decrypted into ``target``; ``key`` None: a backup from before iOS 10.2, the manifest in the
    clear (copied, so SQLite never opens evidence)."""
    with io.FileIO(fd, "rb") as encrypted, open(target, "wb") as out:
        size = os.fstat(fd).st_size
        if size > MAX_MANIFEST_DB:
            raise BackupError(f"Manifest.db is {size:,} bytes: larger than a manifest is read "
                              f"({MAX_MANIFEST_DB >> 30} GiB)", ProblemKind.LIMIT)
        if key is None:
            shutil.copyfileobj(encrypted, out, _CHUNK)
        else:
            if size % _BLOCK:
                raise BackupError(f"Manifest.db is {size:,} bytes, not whole AES blocks: truncated or damaged",
                                  ProblemKind.TRUNCATED)
            decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(_BLOCK))).decryptor()
            while chunk := encrypted.read(_CHUNK):
                out.write(decryptor.update(chunk))
    with open(target, "r+b") as plain:
        if plain.read(len(_SQLITE)) != _SQLITE:
            raise BackupError("Manifest.db does not decrypt to a database: the backup or its ManifestKey is damaged")
        if key is not None:
            _strip_padding(plain)


def _strip_padding(plain: io.BufferedRandom) -> None:
    """Remove PKCS#7 padding from a decrypted database, only where it leaves whole pages (at least 512 bytes):
    a database that was not padded can never look padded."""
    size = plain.seek(0, io.SEEK_END)
    if size < _BLOCK:
        return
    plain.seek(size - _BLOCK)
    tail = plain.read(_BLOCK)
    pad = tail[-1]
    if 1 <= pad <= _BLOCK and tail[-pad:] == bytes([pad]) * pad and (size - pad) % 512 == 0:
        plain.truncate(size - pad)


# the key layer -------------------------------------------------------------------------------------------------


def key_layer(record: ManifestRecord) -> str | None:
    """``<class>:<wrapped key hex>:<size>``, the value of a decrypted file's ``ioskey`` layer; None when the record
    lacks a usable key or size."""
    key, size = record.encryption_key, record.size
    if key is None or size is None or not wrapped_length(len(key) - 4):
        return None
    return f"{int.from_bytes(key[:4], 'little')}:{key[4:].hex()}:{size}"


def parse_key_layer(value: bytes) -> tuple[bytes, int]:
    """The wrapped key (class first, as the manifest stores it) and the plaintext size, from an ``ioskey`` layer."""
    parts = value.split(b":")
    if len(parts) == 3 and parts[0].isdigit() and len(parts[0]) <= 9 and parts[2].isdigit() and len(parts[2]) <= 18:
        try:
            wrapped = bytes.fromhex(parts[1].decode("ascii"))
        except ValueError:
            wrapped = b""
        if wrapped_length(len(wrapped)):
            return int(parts[0]).to_bytes(4, "little") + wrapped, int(parts[2])
    raise LocatorError(f"not an iOS backup key layer (CLASS:WRAPPED-KEY:SIZE): {value[:120]!r}")


# a decrypted file ----------------------------------------------------------------------------------------------


class DecryptedFile:
    """A stored file's plaintext: AES-256-CBC with a zero IV, so any block decrypts with the one before it as its
    IV, and reads can start anywhere (decoders seek).  ``size`` is the record's; the stored file must hold it."""

    def __init__(self, stored: ItemHandle, key: bytes, size: int) -> None:
        self._stored, self._key, self.size, self._position = stored, key, size, 0
        held = stored.size
        if held % _BLOCK:
            raise OSError(errno.EIO, f"the stored file is {held:,} bytes, not whole AES blocks: truncated or damaged")
        needed = -(-size // _BLOCK) * _BLOCK
        if held < needed:
            raise OSError(errno.EIO, f"the manifest records {size:,} bytes but the stored file holds only {held:,} "
                                     "(encrypted): truncated, or its record is wrong")
        self._note = self._check_padding(held, size)

    def _check_padding(self, held: int, size: int) -> str | None:
        if held == size:
            return None if size == 0 else "the stored file has no padding after its recorded size: it may be damaged"
        if held > size + _BLOCK:
            return f"the stored file holds {held - size - _BLOCK:,} bytes more than its recorded size and padding"
        last = self._decrypt(held - _BLOCK, _BLOCK)
        pad = held - size
        if last[-pad:] != bytes([pad]) * pad:
            return "the stored file's padding does not match its recorded size: it may be damaged"
        return None

    def readinto(self, buffer: bytearray | memoryview) -> int:
        count = min(len(buffer), self.size - self._position)
        if count <= 0:
            return 0
        plain = self._decrypt(self._position, count)
        buffer[:count] = plain
        self._position += count
        return count

    def _decrypt(self, offset: int, count: int) -> bytes:
        first = offset // _BLOCK * _BLOCK
        start = max(0, first - _BLOCK)  # the block before is this one's IV
        end = -(-(offset + count) // _BLOCK) * _BLOCK
        data = self._read_stored(start, end - start)
        iv, data = (data[:_BLOCK], data[_BLOCK:]) if first else (bytes(_BLOCK), data)
        plain = Cipher(algorithms.AES(self._key), modes.CBC(iv)).decryptor().update(data)
        return plain[offset - first:offset - first + count]

    def _read_stored(self, offset: int, count: int) -> bytes:
        self._stored.seek(offset)
        data = bytearray(count)
        view, filled = memoryview(data), 0
        while filled < count:
            got = self._stored.readinto(view[filled:])
            if not got:
                raise OSError(errno.EIO, f"the stored file ended at {offset + filled:,} bytes: it changed while "
                                         "being read")
            filled += got
        return bytes(data)

    def seek(self, offset: int) -> None:
        self._position = max(0, offset)

    def changed(self, listed_size: int, listed_mtime: float | None, bytes_read: int) -> Problem | None:
        """The stored file's own check (unchanged while read), then the plaintext against the listing and padding."""
        stored = self._stored.changed(self._stored.size, None, self._stored.size)
        if stored:
            return stored
        if listed_size != self.size or bytes_read != self.size:
            return Problem(ProblemKind.DAMAGED, f"listed as {listed_size:,} bytes, decrypted {self.size:,}, read {bytes_read:,}")
        return Problem(ProblemKind.DAMAGED, self._note) if self._note else None

    def close(self) -> None:
        self._stored.close()
