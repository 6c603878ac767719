"""A case whose known pictures have offspring with hashes of their own: the EXIF preview inside a known photo, a
thumbnail-cache entry of another known picture, a copy of a third carved out of a blob, and a picture whose PDQ is
near a known PDQ hash (its original is not in the exhibit).  All pictures are procedural; categories are labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import fieldlab
from fieldlab.case.groups import group_pictures
from fieldlab.case.store import CaseStore
from fieldlab.detect.perceptual import image_pdq, pdq_hex
from fieldlab.web.accounts import add_user
from tests.builders import KnownFile, write_csv_hashset, write_tree
from tests.detect.media_builders import encoded, picture
from tests.detect.test_exif_thumbnail import with_exif_thumbnail
from tests.detect.thumbnail_builders import CachedPicture, thumbcache
from tests.web.web_case import PASSWORDS, ROLES

PHOTO = "Users/alex/Pictures/known_photo.jpg"
CACHED = "Users/alex/Pictures/known_cached.jpg"
CARVED = "Users/alex/Pictures/known_carved.jpg"
THUMBCACHE = "Users/alex/AppData/Local/Microsoft/Windows/Explorer/thumbcache_256.db"
BLOB = "Users/alex/AppData/Local/app/blob.dat"
NEAR = "Users/alex/Downloads/resized.jpg"
PLAIN = "Users/alex/Pictures/plain.jpg"


@dataclass(frozen=True)
class DerivedCase:
    case: Path
    evidence: Path
    ids: dict[str, int]  # path in the exhibit -> item id

    def item(self, prefix: str, suffix: str = "") -> int:
        """The one item whose path starts with ``prefix`` and ends with ``suffix``."""
        (found,) = [i for p, i in self.ids.items() if p.startswith(prefix) and p.endswith(suffix) and p != prefix]
        return found


def derived_items(case: DerivedCase) -> dict[str, int]:
    """The four offspring of known material, by what each is."""
    return {"EXIF preview of a known photo": case.item(PHOTO, "EXIF thumbnail"),
            "thumbcache entry of a known picture": case.item(THUMBCACHE, "000000001234abcd"),
            "carved copy of a known picture": case.item(BLOB, "embedded jpeg at 4096"),
            "PDQ near match of a known hash": case.ids[NEAR]}


def build_derived_case(root: Path) -> DerivedCase:
    evidence, case, home = root / "evidence", root / "case", root / "home"
    photo_original = picture(901, 800, 600)
    preview = encoded(photo_original.resize((160, 120)), quality=80).getvalue()
    photo = with_exif_thumbnail(encoded(photo_original, quality=90).getvalue(), preview)
    cached = encoded(picture(902, 800, 600), quality=90).getvalue()
    carved = encoded(picture(903, 640, 480), quality=90).getvalue()
    near_original = picture(904, 800, 600)
    known = [KnownFile(PHOTO, photo, "A"), KnownFile(CACHED, cached, "A"), KnownFile(CARVED, carved, "B")]
    cache_entry = encoded(picture(902, 800, 600).resize((256, 192)), quality=70).getvalue()
    files = {k.relative: k.data for k in known} | {
        THUMBCACHE: thumbcache([CachedPicture(0x1234ABCD, cache_entry)]),
        BLOB: b"\x00" * 4096 + carved + b"\x00" * 4096,
        NEAR: encoded(near_original.resize((320, 240)), quality=60).getvalue(),
        PLAIN: encoded(picture(905, 400, 300), quality=85).getvalue(),
    }
    write_tree(evidence, files)
    write_csv_hashset(root / "known.csv", known)
    fieldlab.import_hashset(root / "known.csv", name="caid-test", home=home)
    (root / "near.pdq").write_text(f"pdq {pdq_hex(image_pdq(encoded(near_original, quality=95)).pdq)}\n")
    fieldlab.import_hashset(root / "near.pdq", name="pdq-test", category="A", home=home)
    fieldlab.scan(evidence, case, exhibit_ref="EX1", home=home)
    store = CaseStore.open(case, create=False)
    try:
        group_pictures(store)
        for name, password in PASSWORDS.items():
            add_user(store, name, ROLES[name], password=password, actor="test setup")
        with store.engine.connect() as conn:
            ids = dict(conn.exec_driver_sql("SELECT path, id FROM items").fetchall())
    finally:
        store.close()
    return DerivedCase(case, evidence, ids)
