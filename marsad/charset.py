"""Bytes to text by the WHATWG Encoding Standard: BOM, HTTP charset, <meta> prescan, detection.

Only WHATWG labels count (looked up with `webencodings`, never Python's codec registry): a
page must not be able to name `hex`, `rot13`, `zlib` or `utf-7` and have Python run that
codec on its bytes. Arabic publishers still serve windows-1256 without declaring it, so an
undeclared body that is not valid UTF-8 goes to charset_normalizer, whose answer is mapped
through the same labels; when it gives nothing usable, windows-1256 (the HTML standard's
default for an Arabic locale). `decode` never raises, whatever the bytes and content type.
"""

from __future__ import annotations

import re

import webencodings
from charset_normalizer import from_bytes
from webencodings import Encoding

# Wider than the spec's 1,024 bytes: a browser's parser would still honour a later <meta>
# ("change the encoding"), and Arabic sites put long <head>s before it.
PRESCAN_BYTES = 4096
DETECT_BYTES = 200_000
FALLBACK = "windows-1256"
_WS = b"\t\n\x0c\r "  # ASCII whitespace, as HTML counts it
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16le"), (b"\xfe\xff", "utf-16be"))
_HEADER_CHARSET = re.compile(r"""(?:^|;)[ \t]*charset[ \t]*=[ \t]*(?:"([^"]*)"?|([^;]*))""", re.I)
_META_CHARSET = re.compile(rb"charset[\t\n\x0c\r ]*=[\t\n\x0c\r ]*", re.I)
_META_END = (b"\t", b"\n", b"\x0c", b"\r", b" ", b"/")
_TAG_START = re.compile(rb"</?[A-Za-z]")
_XML_ENCODING = re.compile(rb"""[\x00-\x20]*=[\x00-\x20]*(?:"([^"]*)"|'([^']*)')""")
# Python codec names (charset_normalizer's answers) that are no WHATWG label but decode as one.
_FALLBACK: Encoding = webencodings.lookup(FALLBACK)
_PY_NAMES = {
    "big5hkscs": "big5",
    "cp874": "windows-874",
    "cp932": "shift_jis",
    "cp949": "euc-kr",
    "cp950": "big5",
    "iso2022_jp": "iso-2022-jp",
    "iso8859_16": "iso-8859-16",
    "mac_cyrillic": "x-mac-cyrillic",
    "mac_roman": "macintosh",
    "utf_16_be": "utf-16be",
    "utf_16_le": "utf-16le",
}


def _lookup(label: str | bytes | None) -> Encoding | None:
    """WHATWG "get an encoding": ASCII whitespace stripped, ASCII case ignored, else None."""
    if label is None:
        return None
    if isinstance(label, bytes):
        label = label.decode("latin-1")
    if not label.isascii():  # every label is ASCII; webencodings would choke on surrogates
        return None
    found: Encoding | None = webencodings.lookup(label)
    return found


def header_charset(content_type: str | None) -> str | None:
    """The WHATWG name of a Content-Type's charset parameter, None if absent or no web label."""
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    if not m:
        return None
    enc = _lookup(m.group(1) if m.group(1) is not None else m.group(2))
    return enc.name if enc else None


def _bom(body: bytes) -> Encoding | None:
    for bom, name in _BOMS:
        if body.startswith(bom):
            return _lookup(name)
    return None


class _Abort(Exception):
    """The prescan ran past the end of its bytes: the spec's "abort the prescan"."""


def _skip(buf: bytes, pos: int, chars: bytes) -> int:
    while pos < len(buf) and buf[pos] in chars:
        pos += 1
    if pos >= len(buf):
        raise _Abort
    return pos


def _get_attribute(buf: bytes, pos: int) -> tuple[bytes, bytes, int] | None:
    """HTML's "get an attribute": (name, value, position after it), or None at '>'."""
    pos = _skip(buf, pos, _WS + b"/")
    if buf[pos] == 0x3E:  # '>'
        return None
    start = pos
    pos += 1  # the first byte is the name's, even '='
    while pos < len(buf) and buf[pos] not in b"\t\n\x0c\r =/>":
        pos += 1
    name = buf[start:pos].lower()
    pos = _skip(buf, pos, _WS)
    if buf[pos] != 0x3D:  # no '=': the value is empty
        return name, b"", pos
    pos = _skip(buf, pos + 1, _WS)
    quote = buf[pos : pos + 1]
    if quote in (b'"', b"'"):
        end = buf.find(quote, pos + 1)
        if end < 0:
            raise _Abort
        return name, buf[pos + 1 : end].lower(), end + 1
    if quote == b">":
        return name, b"", pos
    start = pos
    while pos < len(buf) and buf[pos] not in b"\t\n\x0c\r >":
        pos += 1
    if pos >= len(buf):
        raise _Abort
    return name, buf[start:pos].lower(), pos


def charset_from_content(content: bytes) -> Encoding | None:
    """HTML's "extract a character encoding from a meta element" (an http-equiv's content)."""
    m = _META_CHARSET.search(content)
    if not m:
        return None
    rest = content[m.end() :]
    if rest[:1] in (b'"', b"'"):
        end = rest.find(rest[:1], 1)
        return _lookup(rest[1:end]) if end > 0 else None
    value = re.split(rb"[\t\n\x0c\r ;]", rest, maxsplit=1)[0]
    return _lookup(value) if value else None


def _meta_encoding(attrs: list[tuple[bytes, bytes, int]]) -> Encoding | None:
    """The prescan's verdict on one <meta>: its charset, or its content's with http-equiv."""
    seen: set[bytes] = set()
    got_pragma = False
    need_pragma: bool | None = None
    charset: Encoding | None = None
    charset_set = False  # the spec's "null" differs from "failure" (an unknown label)
    for name, value, _ in attrs:
        if name in seen:
            continue
        seen.add(name)
        if name == b"http-equiv":
            got_pragma = got_pragma or value == b"content-type"
        elif name == b"content" and not charset_set:
            found = charset_from_content(value)
            if found is not None:
                charset, charset_set, need_pragma = found, True, True
        elif name == b"charset":
            charset, charset_set, need_pragma = _lookup(value), True, False
    if need_pragma is None or (need_pragma and not got_pragma) or charset is None:
        return None
    if charset.name in ("utf-16le", "utf-16be"):
        return webencodings.UTF8  # bytes that can say <meta> in ASCII are not UTF-16
    if charset.name == "x-user-defined":
        return _lookup("windows-1252")
    return charset


def _prescan(buf: bytes) -> Encoding | None:
    pos = buf.find(b"<")
    while 0 <= pos < len(buf):
        if buf.startswith(b"<!--", pos):
            end = buf.find(b"-->", pos + 2)
            if end < 0:
                return None
            pos = end + 2
        elif buf[pos + 1 : pos + 5].lower() == b"meta" and buf[pos + 5 : pos + 6] in _META_END:
            attrs, pos = [], pos + 5
            while (attr := _get_attribute(buf, pos)) is not None:
                attrs.append(attr)
                pos = attr[2]
            enc = _meta_encoding(attrs)
            if enc is not None:
                return enc
            pos = _skip(buf, pos, _WS + b"/")
        elif _TAG_START.match(buf, pos):
            while pos < len(buf) and buf[pos] not in b"\t\n\x0c\r >":
                pos += 1
            while (attr := _get_attribute(buf, pos)) is not None:
                pos = attr[2]
            pos = _skip(buf, pos, _WS + b"/")
        elif buf[pos + 1 : pos + 2] in (b"!", b"/", b"?"):
            pos = buf.find(b">", pos + 1)
            if pos < 0:
                return None
        pos = buf.find(b"<", pos + 1)
    return None


def xml_encoding(buf: bytes) -> Encoding | None:
    """HTML's "get an XML encoding": the encoding="..." of a leading <?xml declaration."""
    end = buf.find(b">")
    if not buf.startswith(b"<?xml") or end < 0:
        return None
    decl = buf[:end]
    at = decl.find(b"encoding")
    m = _XML_ENCODING.match(decl, at + len(b"encoding")) if at >= 0 else None
    if not m:
        return None
    value = m.group(1) if m.group(1) is not None else m.group(2)
    if any(b <= 0x20 for b in value):
        return None
    enc = _lookup(value)
    return webencodings.UTF8 if enc is not None and enc.name.startswith("utf-16") else enc


def prescan(body: bytes) -> Encoding | None:
    """HTML's "prescan a byte stream to determine its encoding", then the XML declaration."""
    buf = body[:PRESCAN_BYTES]
    if buf.startswith(b"<\x00?\x00x\x00"):
        return _lookup("utf-16le")
    if buf.startswith(b"\x00<\x00?\x00x"):
        return _lookup("utf-16be")
    try:
        found = _prescan(buf)
    except _Abort:
        found = None
    return found or xml_encoding(buf)


def _detected(body: bytes) -> Encoding:
    """charset_normalizer's guess, if it names a web encoding; else the Arabic default."""
    best = from_bytes(body[:DETECT_BYTES]).best()
    name = best.encoding if best is not None else None
    enc: Encoding | None = None
    if name:
        enc = _lookup(_PY_NAMES.get(name, name)) or _lookup(name.replace("_", "-"))
    return _FALLBACK if enc is None or enc.name == "replacement" else enc


def _encoding(body: bytes, content_type: str | None) -> Encoding:
    enc = _bom(body) or _lookup(header_charset(content_type)) or prescan(body)
    if enc is not None:
        return enc
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return _detected(body)
    return webencodings.UTF8


def detect_encoding(body: bytes, content_type: str | None = None) -> str:
    """The WHATWG name of the body's encoding: BOM, header, <meta>, UTF-8 validity, detection."""
    return str(_encoding(body, content_type).name)


def decode(body: bytes, content_type: str | None = None) -> str:
    """Never raises. The BOM is dropped; "replacement" (ISO-2022-KR and kin) gives one U+FFFD."""
    enc = _encoding(body, content_type)
    if enc.name == "replacement":  # the standard's decoder: one error for the whole stream
        return "\ufffd" if body else ""
    bom = _bom(body)
    if bom is not None:
        body = body[3:] if bom.name == "utf-8" else body[2:]
    text: str = enc.codec_info.decode(body, "replace")[0]
    return text
