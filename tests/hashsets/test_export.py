"""Export then import gives the same entries, in both formats."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from fieldlab.hashsets.export import export_set, iter_records
from fieldlab.hashsets.library import HashSetLibrary


def photodna(n: int) -> str:
    """A stand-in of PhotoDNA's shape (144 bytes, base64): the tool only carries the value through."""
    return base64.b64encode(hashlib.shake_256(str(n).encode()).digest(144)).decode()


def _source(path: Path) -> Path:
    rows = ["md5,sha1,pdq,PhotoDNA,category"]
    for n in range(300):
        md5 = hashlib.md5(str(n).encode()).hexdigest()
        sha1 = hashlib.sha1(str(n).encode()).hexdigest() if n % 3 else ""
        pdq = hashlib.sha256(str(n).encode()).hexdigest() if n % 5 == 0 else ""
        rows.append(f"{md5},{sha1},{pdq},{photodna(n) if n % 4 == 0 else ''},{'ABC'[n % 3] if n % 7 else ''}")
    rows.append(f"{'00' * 15}00,,,,A")  # a digest ending in zero bytes survives the fixed-width store
    path.write_text("\n".join(rows) + "\n")
    return path


def _entries(library: HashSetLibrary, name: str) -> list[tuple]:
    (loaded,) = library.load([name])
    return sorted(tuple(sorted(r.items())) for r in iter_records(library, loaded))


@pytest.mark.parametrize("fmt", ["csv", "vics"])
def test_export_then_import_gives_the_same_entries(tmp_path: Path, fmt: str) -> None:
    library = HashSetLibrary(tmp_path / "home")
    library.import_file(_source(tmp_path / "src.csv"), name="original")
    exported = tmp_path / f"out.{fmt}"
    assert export_set(library, "original", fmt, target=exported) == 301
    report = library.import_file(exported, name="again")
    assert report.info.problems == 0 and report.info.format == fmt
    assert _entries(library, "again") == _entries(library, "original")
    original = {tuple(r.items()) for r in iter_records(library, library.load(["original"])[0])}
    assert (("md5", hashlib.md5(b"1").hexdigest()), ("sha1", hashlib.sha1(b"1").hexdigest()), ("pdq", ""),
            ("category", "B"), ("photodna", "")) in original
    assert sum(1 for r in iter_records(library, library.load(["again"])[0]) if r["photodna"]) == 75


def test_vics_photodna_is_kept_and_written_back_where_vics_puts_it(tmp_path: Path) -> None:
    media = [
        {"MediaID": 1, "MD5": hashlib.md5(b"1").hexdigest().upper(), "Category": 1, "PhotoDNA": photodna(1)},
        {"MediaID": 2, "MD5": hashlib.md5(b"2").hexdigest().upper(), "Category": 2,
         "AlternativeHashes": [{"HashName": "PhotoDNA", "HashValue": photodna(2)}]},
        {"MediaID": 3, "MD5": hashlib.md5(b"3").hexdigest().upper(), "Category": 3},
        {"MediaID": 4, "MD5": hashlib.md5(b"4").hexdigest().upper(), "Category": 1, "PhotoDNA": "bad\u0000value"},
    ]
    source = tmp_path / "vics.json"
    source.write_text(json.dumps({"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media",
                                  "value": media}))
    library = HashSetLibrary(tmp_path / "home")
    report = library.import_file(source, name="vic", profile="us")
    assert report.info.entries == 4 and report.info.problems == 1 and "PhotoDNA" in report.problems[0].reason
    export_set(library, "vic", "vics", target=tmp_path / "out.json")
    written = {m["MD5"]: m.get("PhotoDNA") for m in json.loads((tmp_path / "out.json").read_text())["value"]}
    assert written == {media[0]["MD5"]: photodna(1), media[1]["MD5"]: photodna(2), media[2]["MD5"]: None, media[3]["MD5"]: None}


def test_us_categories_export_to_vics_as_numbers(tmp_path: Path) -> None:
    source = tmp_path / "us.csv"
    source.write_text(f"md5,category\n{hashlib.md5(b'x').hexdigest()},2\n")
    library = HashSetLibrary(tmp_path / "home")
    library.import_file(source, name="us", profile="us")
    export_set(library, "us", "vics", target=tmp_path / "out.json")
    text = (tmp_path / "out.json").read_text()
    assert '"Category": 2' in text and "/US/$metadata#Media" in text


def test_an_update_adds_entries_and_recategorises_without_reimporting(tmp_path: Path) -> None:
    def md5(n: int) -> str:
        return hashlib.md5(str(n).encode()).hexdigest()

    library = HashSetLibrary(tmp_path / "home")
    base = tmp_path / "base.csv"
    base.write_text("md5,photodna,category\n" + "".join(f"{md5(n)},{photodna(n) if n == 5 else ''},C\n" for n in range(100)))
    library.import_file(base, name="caid")
    update = tmp_path / "update.csv"
    update.write_text("md5,photodna,category\n" + "".join(f"{md5(n)},{photodna(n) if n == 95 else ''},A\n" for n in range(90, 120)))
    report = library_update(library, update)
    assert report.info.updates[0]["entries"] == 30 and report.info.version.startswith("caid@")
    assert "+1:" in report.info.version
    (loaded,) = library.load(["caid"])
    assert loaded.columns["md5"].digests.shape == (120,)
    from fieldlab.hashsets.matcher import DigestQuery, HashMatcher

    matches = {m.query_index: m.category for m in HashMatcher([loaded]).match([DigestQuery(md5=md5(n)) for n in range(125)])}
    assert matches == {**{n: "C" for n in range(90)}, **{n: "A" for n in range(90, 120)}}
    assert report.info.per_category == {"C": 90, "A": 40}  # the ten updated records now read A
    records = list(iter_records(library, loaded))
    assert len(records) == 130 and {r["md5"] for r in records} == {md5(n) for n in range(120)}
    assert {r["md5"]: r["photodna"] for r in records if r["photodna"]} == {md5(5): photodna(5), md5(95): photodna(95)}


def library_update(library: HashSetLibrary, source: Path):  # noqa: ANN201
    from fieldlab.hashsets.update import update_set

    return update_set(library, "caid", source)
