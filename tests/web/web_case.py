"""One generated case for the review-app tests: known pictures of A, B and C (one with a copy), a near match, a
near-duplicate family, pictures in a cache and a system folder, a video, an undecodable picture, and a file whose
name is markup.  Every picture is procedural (``fieldlab.demo``); categories are only labels in generated sets."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

import fieldlab
from fieldlab.case.groups import group_pictures
from fieldlab.case.schema import devices
from fieldlab.case.store import CaseStore
from fieldlab.demo import procedural_jpeg
from fieldlab.detect.perceptual import image_pdq, pdq_hex
from fieldlab.device import DeviceFacts
from fieldlab.web.accounts import add_user
from tests.builders import KnownFile, write_csv_hashset, write_tree
from tests.detect.media_builders import encoded, procedural_video

HOSTILE_NAME = "<img src=x onerror=alert(1)>.jpg"
PASSWORDS = {"examiner1": "examiner-password-1", "examiner2": "examiner-password-2", "viewer1": "viewer-password-1",
             "super1": "supervisor-password-1"}
ROLES = {"examiner1": "examiner", "examiner2": "examiner", "viewer1": "viewer", "super1": "supervisor"}


@dataclass(frozen=True)
class WebCase:
    case: Path
    evidence: Path
    ids: dict[str, int]  # path in the exhibit -> item id


def _with_camera(jpeg: bytes, make: str, model: str) -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    gps = exif.get_ifd(0x8825)  # 51.5 N, 0.125 W
    gps[1], gps[2], gps[3], gps[4] = "N", (51.0, 30.0, 0.0), "W", (0.0, 7.0, 30.0)
    return encoded(Image.open(io.BytesIO(jpeg)), quality=85, exif=exif).getvalue()


def _picture(seed: int, width: int = 480, height: int = 360) -> bytes:
    return procedural_jpeg(seed, width, height)


def build_web_case(root: Path) -> WebCase:
    evidence, case, home = root / "evidence", root / "case", root / "home"
    known = [
        KnownFile("Users/alex/Pictures/known_a.jpg", _picture(801), "A"),
        KnownFile("Users/alex/Pictures/known_b.jpg", _picture(802), "B"),
        KnownFile("Users/alex/Pictures/known_c.jpg", _picture(803), "C"),
    ]
    near_source = _picture(804)
    family = Image.open(io.BytesIO(_picture(811, 640, 480)))
    files = {k.relative: k.data for k in known}
    files |= {
        "Users/alex/Downloads/copy of known_a.jpg": known[0].data,
        "Users/alex/Downloads/resized.jpg": encoded(Image.open(io.BytesIO(near_source)).resize((240, 180)), quality=60).getvalue(),
        "Users/alex/Pictures/holiday/g1.jpg": encoded(family, quality=90).getvalue(),
        "Users/alex/Pictures/holiday/g2.jpg": encoded(family.resize((400, 300)), quality=60).getvalue(),
        "Users/alex/Pictures/holiday/g3.png": encoded(family.reduce(2), "PNG").getvalue(),
        "Users/alex/Pictures/alone.jpg": _picture(812),
        "Users/alex/AppData/Local/Google/Chrome/User Data/Default/Cache/f_0001a3": _picture(813),
        "Windows/Web/Wallpaper/img0.jpg": _picture(814),
        "Users/alex/Pictures/broken.jpg": _picture(815)[:600] + b"\x00" * 64,  # a JPEG header and nothing after
        f"Users/alex/Downloads/{HOSTILE_NAME}": _picture(816),
        "Data/misc/small_a.jpg": encoded(Image.open(io.BytesIO(known[0].data)).resize((320, 240)), quality=70).getvalue(),
        "Data/misc/IMG_0042.jpg": _with_camera(_picture(818), "samsung", "SM-G960F"),
    }
    write_tree(evidence, files)
    (evidence / "Users/alex/Videos").mkdir()
    procedural_video(evidence / "Users/alex/Videos/clip.mp4", seed=817, seconds=3, size=(320, 240))
    for number, relative in enumerate(sorted(files)):  # file times spread over two years, for the histogram
        os.utime(evidence / relative, (1_600_000_000 + number * 5_000_000,) * 2)

    write_csv_hashset(root / "known.csv", known)
    fieldlab.import_hashset(root / "known.csv", name="caid-test", home=home)
    (root / "near.pdq").write_text(f"pdq {pdq_hex(image_pdq(io.BytesIO(near_source)).pdq)}\n")
    fieldlab.import_hashset(root / "near.pdq", name="pdq-test", category="A", home=home)
    fieldlab.scan(evidence, case, exhibit_ref="EX1", home=home)
    store = CaseStore.open(case, create=False)
    try:
        group_pictures(store)
        with store.engine.begin() as conn:  # the suspect's phone, as a phone extraction would have recorded it
            conn.execute(devices.insert().values(exhibit_id=1, source_item_id=None, platform="android", facts=json.dumps(
                DeviceFacts("android", "build.prop", make="samsung", model="SM-G960F").to_json_dict())))
        for name, password in PASSWORDS.items():
            add_user(store, name, ROLES[name], password=password, actor="test setup")
        with store.engine.connect() as conn:
            ids = dict(conn.exec_driver_sql("SELECT path, id FROM items").fetchall())
    finally:
        store.close()
    return WebCase(case, evidence, ids)


def copy_case(built: WebCase, target: Path) -> WebCase:
    """A private copy of the case (the evidence is shared: it is only read)."""
    shutil.copytree(built.case, target)
    return WebCase(target, built.evidence, built.ids)


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]*)"')


def login(client, name: str, password: str | None = None):  # noqa: ANN001, ANN201 - a TestClient and its response
    """Log ``name`` in through the form, as a browser does; the client keeps the session cookie."""
    form = client.get("/login")
    token = CSRF_FIELD.search(form.text).group(1)
    return client.post("/login", data={"name": name, "password": password or PASSWORDS[name], "csrf": token},
                       follow_redirects=False)


def csrf_of(client) -> str:  # noqa: ANN001
    return CSRF_META.search(client.get("/settings").text).group(1)
