"""The WHATWG order: BOM, then the HTTP charset, then <meta>; only web labels count."""

from __future__ import annotations

import pytest

from marsad.charset import decode, detect_encoding, header_charset, prescan

ARABIC = "هذا نص عربي عن القمة الخليجية في الدوحة، كتبه مراسلنا."


def page(meta: str = "", text: str = ARABIC) -> str:
    return f"<html><head>{meta}<title>t</title></head><body><p>{text}</p></body></html>"


def test_bom_beats_header_beats_meta() -> None:
    meta = '<meta charset="iso-8859-6">'
    utf8 = page(meta).encode()
    assert detect_encoding(b"\xef\xbb\xbf" + utf8, "text/html; charset=windows-1256") == "utf-8"
    assert decode(b"\xef\xbb\xbf" + utf8, "text/html; charset=windows-1256") == page(meta)
    cp = page(meta).encode("cp1256")
    assert detect_encoding(cp, "text/html; charset=windows-1256") == "windows-1256"
    assert ARABIC in decode(cp, "text/html; charset=windows-1256")
    assert detect_encoding(cp, "text/html") == "iso-8859-6"  # the meta, when the header is silent


def test_utf16_bom_is_honoured_and_dropped() -> None:
    raw = "\ufeff".encode("utf-16-le") + page().encode("utf-16-le")
    assert detect_encoding(raw, "text/html; charset=utf-8") == "utf-16le"
    assert decode(raw) == page()


@pytest.mark.parametrize("label", ["utf-7", "UTF-7", "hex", "rot13", "base64", "zlib", "idna"])
def test_a_python_only_codec_is_ignored_in_meta_and_header(label: str) -> None:
    raw = page(f'<meta charset="{label}">').encode()
    assert detect_encoding(raw) == "utf-8"
    assert ARABIC in decode(raw)
    assert header_charset(f"text/html; charset={label}") is None
    assert ARABIC in decode(raw, f"text/html; charset={label}")


def test_an_ignored_header_falls_through_to_the_meta() -> None:
    raw = page('<meta charset="windows-1256">').encode("cp1256")
    assert detect_encoding(raw, "text/html; charset=utf-7") == "windows-1256"
    assert ARABIC in decode(raw, "text/html; charset=utf-7")


@pytest.mark.parametrize("label", ["utf-16", "UTF-16LE", "utf-16be", "unicode"])
def test_meta_utf16_means_utf8(label: str) -> None:
    raw = page(f'<meta charset="{label}">').encode()
    assert detect_encoding(raw) == "utf-8"
    assert ARABIC in decode(raw)


def test_header_utf16_is_honoured() -> None:
    raw = page().encode("utf-16-le")
    assert detect_encoding(raw, "text/html; charset=utf-16") == "utf-16le"
    assert decode(raw, "text/html; charset=utf-16") == page()


def test_x_user_defined_per_webencodings() -> None:
    raw = page('<meta charset="x-user-defined">', "caf\xe9").encode("latin-1")
    assert detect_encoding(raw) == "windows-1252"  # the HTML prescan's rule for <meta>
    assert "café" in decode(raw)
    assert detect_encoding(raw, "text/html; charset=x-user-defined") == "x-user-defined"
    assert "caf\uf7e9" in decode(raw, "text/html; charset=x-user-defined")  # U+F780 + byte


def test_replacement_labels_decode_to_one_replacement_character() -> None:
    raw = page('<meta charset="iso-2022-kr">').encode()
    assert detect_encoding(raw) == "replacement"
    assert decode(raw) == "\ufffd"
    assert decode(b"", "text/html; charset=iso-2022-kr") == ""


def test_undeclared_windows_1256_arabic_decodes() -> None:
    raw = page().encode("cp1256")
    assert b"charset" not in raw
    assert detect_encoding(raw, "text/html") == "windows-1256"
    assert ARABIC in decode(raw, "text/html")


def test_undeclared_valid_utf8_is_utf8() -> None:
    assert detect_encoding(page().encode()) == "utf-8"


def test_detection_that_names_no_web_encoding_falls_back_to_windows_1256() -> None:
    raw = ("A plain English sentence about the weather today. " * 5).encode("cp037")  # EBCDIC
    assert detect_encoding(raw) == "windows-1256"
    assert isinstance(decode(raw), str)


@pytest.mark.parametrize(
    ("content_type", "name"),
    [
        ("text/html; charset= Windows-1256 ", "windows-1256"),
        ('text/html;charset="UTF-8"', "utf-8"),
        ("text/html; CHARSET=cp1256", "windows-1256"),
        ("text/html; charset=latin1", "windows-1252"),
        ("text/html; charset=ISO-8859-6", "iso-8859-6"),
        ("text/html; charset=\tarabic\t", "iso-8859-6"),
        ("text/html", None),
        ("text/html; charset=", None),
        ("text/html; charset=\ud800", None),
        ("text/html; charset=utf-8\x00", None),
        (None, None),
    ],
)
def test_header_labels_whitespace_and_case(content_type: str | None, name: str | None) -> None:
    assert header_charset(content_type) == name


@pytest.mark.parametrize(
    ("head", "name"),
    [
        ('<meta charset=" WINDOWS-1256\t">', "windows-1256"),
        ("<META CHARSET=cp1256>", "windows-1256"),
        (
            '<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">',
            "windows-1256",
        ),
        ("<meta http-equiv=content-type content='text/html;charset=\"iso-8859-6\"'>", "iso-8859-6"),
        ('<meta content="text/html; charset=windows-1256">', None),  # no http-equiv: no pragma
        ("<!-- <meta charset=koi8-r> --><meta charset=windows-1256>", "windows-1256"),
        ('<a title="<meta charset=koi8-r>"><meta charset=windows-1256>', "windows-1256"),
        ('<meta charset="nonsense" http-equiv="content-type" content="charset=koi8-r">', None),
        ('<meta charset="hex"><meta charset="windows-1256">', "windows-1256"),
        ("<metal charset=koi8-r>", None),
        ('<?xml version="1.0" encoding="windows-1256"?><html>', "windows-1256"),
        ("<meta charset=windows-1256", None),  # runs past the end: the prescan gives up
    ],
)
def test_meta_prescan(head: str, name: str | None) -> None:
    found = prescan(head.encode())
    assert (found.name if found else None) == name
