"""PDQ of still images: agreement with Meta's published hashes, robustness to everyday edits, hostile files."""

from __future__ import annotations

import csv
import io
import itertools
import time
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageEnhance, ImageOps

from fieldlab.demo import procedural_jpeg
from fieldlab.detect.perceptual import (
    ALIASING_ROW,
    DIHEDRAL_NAMES,
    ImageDecodeError,
    ImagePdq,
    UndecodableImageFormat,
    hamming,
    image_pdq,
    pdq_from_hex,
    pdq_hex,
)
from tests.conftest import REALDATA
from tests.detect.media_builders import crop_each_side, encoded, jpeg_claiming_size, picture, png_claiming_size

PDQ_DATA = REALDATA / "facebook__ThreatExchange" / "pdq" / "data"
EXPECTED_CSV = REALDATA / "_derived" / "pdq" / "pdq_expected_hashes.csv"
INVALID_JPEGS = sorted((REALDATA / "ianare__exif-samples" / "jpg" / "invalid").glob("*.jpg"))
MATCH = 31  # Meta's usual PDQ match radius
IMPLEMENTATIONS_DIFFER = 16  # Meta's references disagree by up to 12 bits; their own Python test allows 16

# Pillow's transform for each dihedral hash, in DIHEDRAL_NAMES order (None: the image as stored).
PILLOW_TRANSFORMS = (None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270,
                     Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.TRANSPOSE,
                     Image.Transpose.TRANSVERSE)


def hash_file(path: Path) -> ImagePdq:
    with path.open("rb") as stream:
        return image_pdq(stream)


def full_decode_pdq(data: bytes) -> bytes:
    """The reference the fast path is held to: pdqhash on every pixel Pillow decodes."""
    bits, _ = pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return np.packbits(bits.astype(np.uint8)).tobytes()


def published_hashes() -> list[tuple[str, str, str]]:
    """(image, source, hex) for every published hash whose image is in the real data."""
    with EXPECTED_CSV.open(newline="", encoding="utf-8") as rows:
        return [(row["image"], row["source_of_expectation"], row["pdq_hash_hex"]) for row in csv.DictReader(rows)
                if (REALDATA / "facebook__ThreatExchange" / row["image"]).is_file()
                and len(row["pdq_hash_hex"]) == 64]


# --------------------------------------------------------------------------- Meta's reference data


PUBLISHED = published_hashes()


@pytest.mark.parametrize(("image", "source", "expected"), PUBLISHED,
                         ids=[f"{Path(image).name}-by-{source.split()[0]}" for image, source, _ in PUBLISHED])
def test_hash_is_within_16_bits_of_every_published_reference(image: str, source: str, expected: str) -> None:
    result = hash_file(REALDATA / "facebook__ThreatExchange" / image)
    assert hamming(result.pdq, pdq_from_hex(expected)) <= IMPLEMENTATIONS_DIFFER, source


def test_every_image_in_metas_pdq_data_has_a_published_hash() -> None:
    """So the test above covers the whole folder (and is not silently empty if the data moves)."""
    on_disk = {str(p.relative_to(PDQ_DATA.parent.parent)) for p in PDQ_DATA.rglob("*") if p.suffix in (".jpg", ".png")}
    assert len(on_disk) >= 35 and on_disk == {image for image, _, _ in PUBLISHED}


@pytest.mark.parametrize("path", sorted((PDQ_DATA / "bridge-mods").glob("*.jpg")), ids=lambda p: p.stem)
def test_meta_bridge_modifications_match_the_original(path: Path) -> None:
    original = hash_file(PDQ_DATA / "bridge-mods" / "aaa-orig.jpg")
    assert hamming(hash_file(path).pdq, original.pdq) <= MATCH


# Each of Meta's dihedral samples, and the transform of it that gives back the original.
DIHEDRAL_SAMPLES = {
    "bridge-2-rotate-90.jpg": "rotate-90-cw",
    "bridge-3-rotate-180.jpg": "rotate-180",
    "bridge-4-rotate-270.jpg": "rotate-90-ccw",
    "bridge-5-flipx.jpg": "flip-top-bottom",
    "bridge-6-flipy.jpg": "flip-left-right",
    "bridge-7-flip-plus-1.jpg": "transpose",
    "bridge-8-flip-minus-1.jpg": "transverse",
}


@pytest.mark.parametrize(("name", "undoing"), DIHEDRAL_SAMPLES.items())
def test_rotated_and_flipped_samples_match_through_the_transform_that_undoes_them(name: str, undoing: str) -> None:
    folder = PDQ_DATA / "reg-test-input" / "dih"
    original = hash_file(folder / "bridge-1-original.jpg").pdq
    query = hash_file(folder / name)
    distances = [hamming(h, original) for h in query.dihedral]
    best = min(range(8), key=distances.__getitem__)
    assert (DIHEDRAL_NAMES[best], distances[best] <= MATCH) == (undoing, True)
    assert hamming(query.pdq, original) > MATCH  # without the dihedral hashes it would be missed


@pytest.mark.parametrize("name", ["exif-rotn-3.jpg", "exif-rotn-6.jpg", "exif-rotn-8.jpg"])
def test_exif_orientation_is_ignored_as_meta_references_do(name: str) -> None:
    path = PDQ_DATA / "reg-test-input" / "exif-rotn" / name
    expected = {Path(image).name: pdq_from_hex(hex_) for image, _, hex_ in PUBLISHED}[name]
    upright = ImageOps.exif_transpose(Image.open(path))
    assert hamming(hash_file(path).pdq, expected) <= IMPLEMENTATIONS_DIFFER
    assert hamming(image_pdq(encoded(upright, quality=95)).pdq, expected) > MATCH


def test_heic_photo_is_hashed_with_its_quality() -> None:
    result = hash_file(REALDATA / "ianare__exif-samples" / "heic" / "IMG_5195.HEIC")
    assert (result.format, result.width * result.height > 8_000_000) == ("HEIF", True)
    assert 50 <= result.quality <= 100
    assert len(result.pdq) == 32 and len(result.dihedral) == 8


def test_heic_is_hashed_as_displayed_and_its_stored_picture_still_matches_through_the_dihedral_hashes() -> None:
    stored = picture(5, 480, 320)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise; pillow-heif stores the turn as the HEIF's own rotation
    heic = image_pdq(encoded(stored, "HEIF", exif=exif.tobytes(), quality=90))
    displayed = image_pdq(encoded(stored.transpose(Image.Transpose.ROTATE_270), "PNG")).pdq
    jpeg_of_stored = image_pdq(encoded(stored, "JPEG", exif=exif.tobytes(), quality=95)).pdq  # hashed as stored
    assert (heic.width, heic.height, heic.facts.orientation) == (320, 480, 6)
    assert hamming(heic.pdq, displayed) <= IMPLEMENTATIONS_DIFFER
    assert hamming(heic.pdq, jpeg_of_stored) > MATCH
    assert min(hamming(h, jpeg_of_stored) for h in heic.dihedral) <= IMPLEMENTATIONS_DIFFER


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", INVALID_JPEGS, ids=lambda p: p.name)
def test_broken_jpegs_end_with_a_hash_or_a_clear_error(path: Path) -> None:
    try:
        result = hash_file(path)
    except ImageDecodeError as error:
        assert str(error)
    else:
        assert len(result.pdq) == 32


def test_the_broken_jpeg_samples_are_there() -> None:
    assert len(INVALID_JPEGS) >= 5


# --------------------------------------------------------------------------- generated pictures


@pytest.fixture(scope="module")
def original() -> Image.Image:
    return picture(seed=5)


@pytest.fixture(scope="module")
def original_hash(original: Image.Image) -> ImagePdq:
    return image_pdq(encoded(original, quality=92))


def thumbnail(image: Image.Image, side: int) -> Image.Image:
    small = image.copy()
    small.thumbnail((side, side))
    return small


EVERYDAY_EDITS = {
    "resized-to-50%": lambda im: encoded(im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)),
    "recompressed-at-quality-40": lambda im: encoded(im, quality=40),
    "cropped-1%-each-side": lambda im: encoded(crop_each_side(im, 0.01)),
    "brightened-30%": lambda im: encoded(ImageEnhance.Brightness(im).enhance(1.3)),
    "thumbnailed-to-320px": lambda im: encoded(thumbnail(im, 320)),
}


@pytest.mark.parametrize("edit", EVERYDAY_EDITS, ids=str)
def test_everyday_edits_still_match(original: Image.Image, original_hash: ImagePdq, edit: str) -> None:
    assert hamming(image_pdq(EVERYDAY_EDITS[edit](original)).pdq, original_hash.pdq) <= MATCH


def test_crops_beyond_a_few_percent_are_missed(original: Image.Image, original_hash: ImagePdq) -> None:
    """The limitation the module docstring quantifies: PDQ is no crop detector."""
    assert hamming(image_pdq(encoded(crop_each_side(original, 0.05))).pdq, original_hash.pdq) > MATCH


@pytest.mark.parametrize("index", range(8), ids=lambda i: DIHEDRAL_NAMES[i])
def test_each_dihedral_hash_is_the_hash_of_its_named_transform(original: Image.Image, original_hash: ImagePdq,
                                                               index: int) -> None:
    transform = PILLOW_TRANSFORMS[index]
    transformed = original if transform is None else original.transpose(transform)
    assert hamming(image_pdq(encoded(transformed, quality=92)).pdq, original_hash.dihedral[index]) <= 8


@pytest.mark.parametrize(("width", "height", "transposed"), [
    (1024, 576, True), (2048, 1536, True), (512, 384, True), (576, 1024, False), (1200, 900, False)])
def test_pictures_hashed_transposed_to_spare_the_cache_get_the_hashes_pdqhash_gives_directly(
        width: int, height: int, transposed: bool) -> None:
    found = image_pdq(encoded(picture(seed=9, width=width, height=height), quality=90), keep_pixels=True)
    assert found.pixels is not None
    columns = found.pixels.shape[1]
    assert (columns % ALIASING_ROW == 0) is transposed  # the case this picture exercises
    bits, quality = pdqhash.compute_dihedral(found.pixels)
    assert found.dihedral == tuple(np.packbits(np.asarray(b, dtype=np.uint8)).tobytes() for b in bits)
    assert found.quality == quality


def test_a_rotated_copy_matches_only_through_the_dihedral_hashes(original: Image.Image,
                                                                 original_hash: ImagePdq) -> None:
    rotated = image_pdq(encoded(original.transpose(Image.Transpose.ROTATE_90)))
    assert hamming(rotated.pdq, original_hash.pdq) > MATCH
    assert hamming(rotated.dihedral[DIHEDRAL_NAMES.index("rotate-90-cw")], original_hash.pdq) <= MATCH


def test_unrelated_pictures_are_far_apart() -> None:
    hashes = [image_pdq(encoded(picture(seed, 600, 450))).pdq for seed in range(11, 17)]
    assert min(hamming(a, b) for a, b in itertools.combinations(hashes, 2)) > MATCH


@pytest.mark.parametrize("seed", [101, 102])
def test_fast_jpeg_path_drifts_at_most_8_bits_from_a_full_decode_of_12_megapixels(seed: int) -> None:
    data = procedural_jpeg(seed, 4000, 3000, quality=92)
    result = image_pdq(io.BytesIO(data))
    assert (result.width, result.height, result.format) == (4000, 3000, "JPEG")
    assert hamming(result.pdq, full_decode_pdq(data)) <= 8


# One photo in each format and pixel mode a seized device holds; each is the same picture.
FORMATS_AND_MODES = {
    "PNG": lambda im: encoded(im, "PNG"),
    "MPO": lambda im: encoded(im, "MPO", save_all=True, append_images=[im.transpose(Image.Transpose.ROTATE_90)],
                              quality=95),
    "GIF": lambda im: encoded(im, "GIF"),
    "BMP": lambda im: encoded(im, "BMP"),
    "TIFF": lambda im: encoded(im, "TIFF"),
    "WEBP": lambda im: encoded(im, "WEBP", quality=80),
    "AVIF": lambda im: encoded(im, "AVIF", quality=70),
    "HEIF": lambda im: encoded(im, "HEIF", quality=70),
    "grey L": lambda im: encoded(im.convert("L"), "PNG"),
    "palette P": lambda im: encoded(im.convert("P"), "PNG"),
    "bilevel 1": lambda im: encoded(im.convert("1"), "PNG"),
    "grey+alpha LA": lambda im: encoded(im.convert("LA"), "PNG"),
    "RGBA": lambda im: encoded(im.convert("RGBA"), "PNG"),
    "CMYK JPEG": lambda im: encoded(im.convert("CMYK"), "JPEG", quality=92),
    "16-bit grey I;16": lambda im: encoded(Image.fromarray(np.asarray(im.convert("L")).astype(np.uint16) * 257), "PNG"),
    "float grey F": lambda im: encoded(Image.fromarray(np.asarray(im.convert("L"), np.float32) / 255), "TIFF"),
}


@pytest.mark.parametrize("kind", FORMATS_AND_MODES, ids=str)
def test_every_format_and_pixel_mode_hashes_like_the_rgb_jpeg(kind: str) -> None:
    image = picture(seed=7, width=600, height=450)
    expected = image_pdq(encoded(image, quality=95))
    result = image_pdq(FORMATS_AND_MODES[kind](image))
    assert hamming(result.pdq, expected.pdq) <= 8
    assert result.quality >= 50 and (result.width, result.height) == (600, 450)


def test_animated_gif_is_hashed_by_its_first_frame() -> None:
    first, second = picture(21, 320, 240), picture(22, 320, 240)
    stream = encoded(first, "GIF", save_all=True, append_images=[second], duration=100)
    result = image_pdq(stream)
    assert hamming(result.pdq, image_pdq(encoded(first)).pdq) <= MATCH
    assert hamming(result.pdq, image_pdq(encoded(second)).pdq) > MATCH


def test_a_one_pixel_image_hashes_with_quality_zero() -> None:
    result = image_pdq(encoded(Image.new("RGB", (1, 1), (90, 40, 200)), "PNG"))
    assert (result.width, result.height, result.quality, len(result.pdq)) == (1, 1, 0, 32)


# --------------------------------------------------------------------------- hostile and broken input


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_a_header_claiming_60000x60000_pixels_is_refused_at_once(kind: str) -> None:
    data = jpeg_claiming_size(60000, 60000) if kind == "JPEG" else png_claiming_size(60000, 60000)
    started = time.perf_counter()
    with pytest.raises(ImageDecodeError, match="pixel"):
        image_pdq(io.BytesIO(data))
    assert time.perf_counter() - started < 1


def test_max_pixels_refuses_a_large_image_before_decoding_it() -> None:
    with pytest.raises(ImageDecodeError, match="1,000,000 pixel limit"):
        image_pdq(encoded(picture(3, 1200, 900)), max_pixels=1_000_000)


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_image_raises_a_clear_error(kind: str) -> None:
    data = encoded(picture(4, 640, 480), kind).getvalue()
    with pytest.raises(ImageDecodeError, match="truncated"):
        image_pdq(io.BytesIO(data[: len(data) // 2]))


@pytest.mark.parametrize("data", [
    b"",
    b"plain text, not a picture\n" * 40,
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 9 9\n",  # Pillow would hand EPS to Ghostscript
], ids=["empty", "text", "eps"])
def test_non_images_and_script_formats_are_refused(data: bytes) -> None:
    with pytest.raises(ImageDecodeError, match="not an image"):
        image_pdq(io.BytesIO(data))


# --------------------------------------------------------------------------- hash text and distance


def test_hex_round_trips_in_lowercase() -> None:
    raw = bytes(range(32))
    assert pdq_from_hex(pdq_hex(raw).upper() + "\n") == raw
    assert pdq_hex(raw) == raw.hex()


@pytest.mark.parametrize("text", ["", "0" * 63, "0" * 65, "g" * 64, "00 " * 21 + "0", "0x" + "0" * 62])
def test_malformed_hex_is_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        pdq_from_hex(text)


def test_hamming_counts_differing_bits_of_32_byte_hashes() -> None:
    zero = bytes(32)
    assert hamming(zero, bytes([0xFF] * 32)) == 256
    assert hamming(zero, b"\x80" + bytes(30) + b"\x01") == 2
    with pytest.raises(ValueError):
        hamming(zero, bytes(31))


ILEAPP_SAMPLES = REALDATA / "abrignoni__iLEAPP" / "admin" / "test" / "samples_data"


def test_a_qoi_picture_is_decoded_and_a_jpeg_xl_one_is_an_undecodable_format_not_damage() -> None:
    with (ILEAPP_SAMPLES / "sample_qoi.qoi").open("rb") as stream:
        found = image_pdq(stream)
    assert found.format == "QOI" and found.width > 0 and found.height > 0
    with (ILEAPP_SAMPLES / "sample_jxl.jxl").open("rb") as stream, pytest.raises(UndecodableImageFormat):
        image_pdq(stream)
