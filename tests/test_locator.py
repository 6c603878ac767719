"""Locators: one stable text form for any item, round-tripping any bytes a suspect's file system holds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldlab.locator import (
    Layer,
    Locator,
    LocatorError,
    display_bytes,
    file_path,
    file_texts,
    layer_text,
    parse_run,
    parse_runs,
    run_key,
)


@given(st.lists(st.tuples(st.sampled_from(["file", "member", "stream", "carved", "partition", "fsfile", "vss", "bde"]), st.binary()), min_size=1, max_size=5))
def test_any_chain_of_any_bytes_round_trips_through_text(layers: list[tuple[str, bytes]]) -> None:
    locator = Locator(tuple(Layer(kind, value) for kind, value in layers))
    text = locator.to_text()
    assert Locator.parse(text) == locator
    assert "\n" not in text and "\r" not in text and "\x00" not in text


def test_text_form_is_readable_for_ordinary_paths() -> None:
    locator = Locator.for_file(b"Users/alex/Pictures/IMG 0001.jpg").child("member", "photos/a.jpg")
    assert locator.to_text() == "file:Users/alex/Pictures/IMG 0001.jpg|member:photos/a.jpg"
    assert locator.parent == Locator.for_file(b"Users/alex/Pictures/IMG 0001.jpg")


def test_separator_and_escape_characters_in_names_are_encoded() -> None:
    locator = Locator.for_file(b"a|b%c:d")
    assert locator.to_text() == "file:a%7Cb%25c:d"
    assert Locator.parse(locator.to_text()) == locator


@pytest.mark.parametrize("text", ["", "nokind", "file:%G1", "file:%4", "bogus:x"])
def test_malformed_text_is_refused(text: str) -> None:
    with pytest.raises(LocatorError):
        Locator.parse(text)


def test_display_escapes_control_characters_bidi_overrides_and_bad_bytes() -> None:
    shown = display_bytes(b"a\nb\x1b[31m\xff\xe2\x80\xaegpj.exe")
    assert shown == "a\\x0ab\\x1b[31m\\xff\\u202egpj.exe"


@given(st.binary())
def test_a_folder_files_path_is_read_from_its_text_as_parsing_reads_it(relative: bytes) -> None:
    text = Locator.for_file(relative).to_text()
    assert file_path(text) == relative
    assert file_path(Locator.for_file(relative).child("member", "0:a.jpg").to_text()) is None
    assert file_path(Locator.of("fsfile", relative).to_text()) is None


def test_a_folder_files_text_with_a_bad_escape_is_refused_as_parsing_refuses_it() -> None:
    with pytest.raises(LocatorError):
        file_path("file:a%G1")


@pytest.mark.parametrize(("name", "text", "shown"), [
    (b"Users/alex/IMG 0001.jpg", "file:Users/alex/IMG 0001.jpg", "Users/alex/IMG 0001.jpg"),
    (b"a|b%c", "file:a%7Cb%25c", "a|b%c"),
    (b"caf\xc3\xa9", "file:caf%C3%A9", "caf\u00e9"),
    (b"x\ny", "file:x%0Ay", "x\\x0ay"),
    (b"\xff", "file:%FF", "\\xff"),
    (b"", "file:", ""),
])
def test_names_needing_no_escape_are_their_own_text_and_display_and_others_are_escaped(name: bytes, text: str,
                                                                                        shown: str) -> None:
    assert layer_text("file", name) == text and display_bytes(name) == shown


def test_a_carved_run_in_two_pieces_round_trips_through_its_text() -> None:
    value = run_key(4096, 52224, (58880, 52429))
    assert value == b"4096+52224,58880+52429"
    locator = Locator.parse(Locator.of("partition", "1048576").child("carved", value).to_text())
    assert parse_runs(locator.layers[-1].value) == ((4096, 52224), (58880, 52429))
    assert parse_runs(run_key(7, 9)) == ((7, 9),) and parse_run(run_key(7, 9)) == (7, 9)


@pytest.mark.parametrize("value", [
    b"1+2,3+4,5+6",  # at most two pieces
    b"0+100,50+10",  # overlapping
    b"100+10,0+10",  # out of order
    b"0+0,10+5",  # an empty piece
    b"0+10,",  # a piece missing
    b"00+10",  # not as run_key writes it
    b"1+2+3", b"+5", b"5+", b"-1+5", b"1 + 2", b"9" * 21 + b"+1",
])
def test_a_carved_run_address_is_read_strictly(value: bytes) -> None:
    with pytest.raises(LocatorError):
        parse_runs(value)


def test_a_run_carved_inside_a_file_is_one_piece() -> None:
    with pytest.raises(LocatorError, match="one piece"):
        parse_run(b"0+10,20+10")


@pytest.mark.parametrize("relative", [b"Users/alex/Pictures/a.jpg", b"caf\xe9.jpg", b"line\nbreak", b"%41|x:y",
                                      b"\xe2\x80\xaeevil", b"a b/(c)"])
def test_a_folder_files_texts_from_one_look_are_its_locator_and_display_path(relative: bytes) -> None:
    assert file_texts(relative) == (layer_text("file", relative), display_bytes(relative))
    assert Locator.parse(file_texts(relative)[0]) == Locator.for_file(relative)
