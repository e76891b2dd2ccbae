"""Canonical URLs and the article id derived from them: what makes a page the same article."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from courlan import normalize_url


def article_id_for(canonical_url: str) -> str:
    """Stable id: the first 16 bytes of SHA-256 of the canonical URL, as hex."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


def canonicalise(url: str) -> str:
    """courlan's normalisation: lower-case host, tracking parameters and fragment gone."""
    try:
        return normalize_url(url, strict=True)
    except (ValueError, TypeError):
        return url


def same_site(a: str, b: str) -> bool:
    ha, hb = urlsplit(a).hostname or "", urlsplit(b).hostname or ""
    return ha.removeprefix("www.") == hb.removeprefix("www.")
