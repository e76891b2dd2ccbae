"""Bot-challenge pages: a 200 (or 403/503) that is an interstitial, not the article.

Cloudflare, Sucuri, Imperva, DataDome and friends answer a bot with a small page
that runs JavaScript or a CAPTCHA. Stored as an article it would be junk text
with a real article_id, and would block the real page from ever being stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Each marker is specific to an interstitial; none appears in a normal article.
_MARKERS: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    (
        "cloudflare",
        re.compile(rb"<title>\s*just a moment(?:\.{3}|\xe2\x80\xa6)", re.I),
    ),
    (
        "cloudflare",
        re.compile(
            rb"/cdn-cgi/challenge-platform/|window\._cf_chl_opt|cf-browser-verification", re.I
        ),
    ),
    ("cloudflare", re.compile(rb"<title>\s*attention required! \| cloudflare", re.I)),
    ("ddos-guard", re.compile(rb"<title>\s*ddos-guard|ddos protection by", re.I)),
    ("sucuri", re.compile(rb"sucuri website firewall - access denied|sucuri_cloudproxy_js", re.I)),
    ("imperva", re.compile(rb"_incapsula_resource|incapsula incident id", re.I)),
    ("datadome", re.compile(rb"captcha-delivery\.com|geo\.captcha-delivery", re.I)),
    ("perimeterx", re.compile(rb"px-captcha|_pxappid", re.I)),
    (
        "generic",
        re.compile(
            rb"checking (?:if the site connection is secure|your browser before accessing)", re.I
        ),
    ),
    ("generic", re.compile(rb"please enable (?:javascript and )?cookies to continue", re.I)),
)
_HEADERS = (("cf-mitigated", "challenge"), ("x-datadome", ""), ("x-sucuri-block", ""))
_SCAN = 65_536


def detect_challenge(headers: Mapping[str, str], body: bytes) -> str | None:
    """The vendor whose challenge this response is, or None for an ordinary page."""
    lower = {k.lower(): v.lower() for k, v in headers.items()}
    for name, value in _HEADERS:
        if name in lower and value in lower[name]:
            return name.split("-", 1)[1] if name.startswith("x-") else "cloudflare"
    head = body[:_SCAN]
    for vendor, pattern in _MARKERS:
        if pattern.search(head):
            return vendor
    return None
