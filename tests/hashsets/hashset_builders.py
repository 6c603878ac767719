"""Generated hash-set files in the layouts real tools write (random digests, never real material)."""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from fieldlab.hashsets.formats.encase import HEADER_SIZE, SIGNATURE, VERSION


@dataclass(frozen=True)
class Digests:
    """The digests of one made-up file, named by a label."""

    label: str

    @property
    def md5(self) -> bytes:
        return hashlib.md5(self.label.encode()).digest()

    @property
    def sha1(self) -> bytes:
        return hashlib.sha1(self.label.encode()).digest()

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.label.encode()).digest()

    @property
    def pdq(self) -> bytes:
        return hashlib.sha256(b"pdq:" + self.label.encode()).digest()


# NIST's RDSv3 schema.sql (minimal and full releases)
RDS_SCHEMA = """
CREATE TABLE FILE (
 sha256     VARCHAR NOT NULL,
 sha1       VARCHAR NOT NULL,
 md5        VARCHAR NOT NULL,
 crc32      VARCHAR NOT NULL,
 file_name  VARCHAR NOT NULL,
 file_size  INTEGER NOT NULL,
 package_id INTEGER NOT NULL,
 CONSTRAINT PK_FILE__FILE PRIMARY KEY (sha256, sha1, md5, crc32, file_name, file_size, package_id)
);
CREATE TABLE MFG (manufacturer_id INTEGER NOT NULL, name VARCHAR NOT NULL);
CREATE TABLE OS (operating_system_id INTEGER NOT NULL, name VARCHAR NOT NULL, version VARCHAR NOT NULL,
 manufacturer_id INTEGER NOT NULL);
CREATE TABLE PKG (package_id INTEGER NOT NULL, name VARCHAR NOT NULL, version VARCHAR NOT NULL,
 operating_system_id INTEGER NOT NULL, manufacturer_id INTEGER NOT NULL, language VARCHAR NOT NULL,
 application_type VARCHAR NOT NULL);
CREATE TABLE VERSION (version VARCHAR UNIQUE NOT NULL, build_set VARCHAR NOT NULL,
 build_date TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL, release_date TIMESTAMP NOT NULL,
 description VARCHAR NOT NULL);
"""
RDS_DISTINCT_VIEW = "CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5, crc32 FROM FILE;"
# a release that keeps files in METADATA and shows them through a FILE view without crc32
RDS_FILE_VIEW_SCHEMA = """
CREATE TABLE METADATA (object_id INTEGER, file_name VARCHAR, bytes INTEGER, md5 VARCHAR, sha1 VARCHAR, sha256 VARCHAR);
CREATE VIEW FILE AS SELECT sha256, sha1, md5, file_name, bytes AS file_size, object_id AS package_id FROM METADATA;
"""
RdsRow = tuple[object, object, object]  # sha256, sha1, md5 as the database holds them


def rds_row(digests: Digests) -> RdsRow:
    """A FILE row as NIST writes it: upper-case hex."""
    return digests.sha256.hex().upper(), digests.sha1.hex().upper(), digests.md5.hex().upper()


def write_nsrl_rds(path: Path, rows: Iterable[RdsRow], *, packages: int = 1, distinct_view: bool = True) -> Path:
    """An RDSv3 database; each row is listed once per package, as NIST lists a file shipped in many."""
    with closing(sqlite3.connect(path)) as db:
        db.executescript(RDS_SCHEMA + (RDS_DISTINCT_VIEW if distinct_view else ""))
        db.executemany(
            "INSERT INTO FILE VALUES (?, ?, ?, 'DEADBEEF', ?, 100, ?)",
            ((*row, f"file{number}.dll", package) for number, row in enumerate(rows) for package in range(packages)),
        )
        db.commit()
    return path


def write_nsrl_rds_file_view(path: Path, rows: Iterable[RdsRow]) -> Path:
    with closing(sqlite3.connect(path)) as db:
        db.executescript(RDS_FILE_VIEW_SCHEMA)
        db.executemany(
            "INSERT INTO METADATA VALUES (1, 'a.dll', 10, ?, ?, ?)", ((md5, sha1, sha256) for sha256, sha1, md5 in rows)
        )
        db.commit()
    return path


# The Sleuth Kit's sqlite_hdb.cpp, schema version 1
TSK_KDB_SCHEMA = """
CREATE TABLE db_properties (name TEXT NOT NULL, value TEXT);
INSERT INTO db_properties (name, value) VALUES ('Schema Version', '1');
CREATE TABLE hashes (id INTEGER PRIMARY KEY AUTOINCREMENT, md5 BINARY(16) UNIQUE, sha1 BINARY(20), sha2_256 BINARY(32));
CREATE TABLE file_names (name TEXT NOT NULL, hash_id INTEGER NOT NULL, PRIMARY KEY(name, hash_id));
CREATE TABLE comments (comment TEXT NOT NULL, hash_id INTEGER NOT NULL, PRIMARY KEY(comment, hash_id));
CREATE INDEX md5_index ON hashes(md5);
"""


def write_tsk_kdb(path: Path, md5s: Iterable[object], sha1s: Iterable[object] = ()) -> Path:
    """A TSK hash database holding ``md5s`` (as TSK stores them: 16-byte blobs), with names and comments."""
    with closing(sqlite3.connect(path)) as db:
        db.executescript(TSK_KDB_SCHEMA)
        sha1_list = list(sha1s)
        for number, md5 in enumerate(md5s):
            sha1 = sha1_list[number] if number < len(sha1_list) else None
            row_id = db.execute("INSERT INTO hashes (md5, sha1) VALUES (?, ?)", (md5, sha1)).lastrowid
            db.execute("INSERT INTO file_names VALUES (?, ?)", (f"file{number}.exe", row_id))
            db.execute("INSERT INTO comments VALUES ('from a test', ?)", (row_id,))
        db.commit()
    return path


NSRL_TXT_HEADER = '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"'
NSRL_TXT_HEADER_OLD = '"SHA-1","FileName","FileSize","ProductCode","OpSystemCode","MD4","MD5","CRC32","SpecialCode"'


def nsrl_txt_line(digests: Digests, name: str = "setup.exe") -> str:
    """One NSRLFile.txt row as RDS 2.x writes it: quoted upper-case hex, bare numbers."""
    return f'"{digests.sha1.hex().upper()}","{digests.md5.hex().upper()}","FFFFFFFF","{name}",4109,21000,"358",""'


HASHKEEPER_HEADER = (
    '"file_id","hashset_id","file_name","directory","hash","file_size","date_modified","time_modified",'
    '"time_zone","comments","date_accessed","time_accessed"'
)


def hashkeeper_line(file_id: int, digests: Digests, name: str = "image.jpg") -> str:
    return f'{file_id},7,"{name}","C:\\Data","{digests.md5.hex()}",1234,"01/02/2003","10:11:12","EST","","",""'


def write_lines(path: Path, *lines: str) -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


def encase_bytes(
    md5s: Iterable[bytes],
    *,
    name: str = "Test set",
    category: str = "Notable",
    count: int | None = None,
    version: bytes = VERSION,
) -> bytes:
    """An EnCase .hash file: signature, version, record count, name and category, then 18-byte records."""
    records = [md5 + b"\x00\x00" for md5 in md5s]
    header = bytearray(HEADER_SIZE)
    header[0:16] = SIGNATURE + version
    struct.pack_into("<I", header, 0x10, len(records) if count is None else count)
    encoded_name = name.encode("utf-16-le")[:78]
    header[0x408 : 0x408 + len(encoded_name)] = encoded_name
    encoded_category = category.encode("utf-16-le")[:36]
    header[0x458 : 0x458 + len(encoded_category)] = encoded_category
    return bytes(header) + b"".join(records)
