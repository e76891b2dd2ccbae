"""Bot-challenge pages: a 200 (or 403/503) that is an interstitial, not the article.

Cloudflare, Sucuri, Imperva, DataDome and friends answer a bot with a small page
that runs JavaScript or a CAPTCHA. Stored as an article it would be junk text
with a real article_id, and would block the real page from ever being stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Each marker is specific to an interstitial; none appears in a normal article. Literal,
# lower-case byte strings: one lower() of the head, then C substring searches, because
# this runs on every fetched page.
_MARKERS: tuple[tuple[bytes, str], ...] = (
    (b"/cdn-cgi/challenge-platform/", "cloudflare"),
    (b"window._cf_chl_opt", "cloudflare"),
    (b"cf-browser-verification", "cloudflare"),
    (b"<title>attention required! | cloudflare", "cloudflare"),
    (b"<title>ddos-guard", "ddos-guard"),
    (b"ddos protection by", "ddos-guard"),
    (b"sucuri website firewall - access denied", "sucuri"),
    (b"sucuri_cloudproxy_js", "sucuri"),
    (b"_incapsula_resource", "imperva"),
    (b"incapsula incident id", "imperva"),
    (b"captcha-delivery.com", "datadome"),
    (b"px-captcha", "perimeterx"),
    (b"_pxappid", "perimeterx"),
    (b"checking if the site connection is secure", "generic"),
    (b"checking your browser before accessing", "generic"),
    (b"please enable javascript and cookies to continue", "generic"),
    (b"please enable cookies to continue", "generic"),
)
_JUST_A_MOMENT = re.compile(rb"<title>\s*just a moment(?:\.{3}|\xe2\x80\xa6)")
_HEADERS = (("cf-mitigated", "challenge"), ("x-datadome", ""), ("x-sucuri-block", ""))
_SCAN = 65_536


def detect_challenge(headers: Mapping[str, str], body: bytes) -> str | None:
    """The vendor whose challenge this response is, or None for an ordinary page."""
    lower = {k.lower(): v.lower() for k, v in headers.items()}
    for name, value in _HEADERS:
        if name in lower and value in lower[name]:
            return name.split("-", 1)[1] if name.startswith("x-") else "cloudflare"
    head = body[:_SCAN].lower()
    if _JUST_A_MOMENT.search(head):
        return "cloudflare"
    for marker, vendor in _MARKERS:
        if marker in head:
            return vendor
    return None
