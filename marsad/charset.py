"""Bytes to text in the order that works for Arabic sites: header, BOM, meta, detection.

Arabic publishers still serve windows-1256 without declaring it, so the last
step matters more here than for most of the web.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_META_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# WHATWG: these labels mean a superset in practice.
_ALIASES = {
    "iso-8859-1": "windows-1252",
    "latin1": "windows-1252",
    "ascii": "windows-1252",
    "iso-8859-6": "iso-8859-6",
    "arabic": "windows-1256",
}


def _known(name: str | None) -> str | None:
    if not name:
        return None
    name = _ALIASES.get(name.strip().lower(), name.strip().lower())
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = re.search(r"charset\s*=\s*[\"']?([^\s;\"']+)", content_type, re.I)
    return _known(m.group(1)) if m else None


def detect_encoding(body: bytes, content_type: str | None = None) -> str:
    enc = header_charset(content_type)
    if enc:
        return enc
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    m = _META_RE.search(body[:4096])
    if m:
        enc = _known(m.group(1).decode("ascii", "ignore"))
        if enc:
            return enc
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(body[:200_000]).best()
    return best.encoding if best else "utf-8"


def decode(body: bytes, content_type: str | None = None) -> str:
    enc = detect_encoding(body, content_type)
    text = body.decode(enc, errors="replace")
    return text[1:] if text.startswith("\ufeff") else text
