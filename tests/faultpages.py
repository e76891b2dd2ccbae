"""Bodies the fault server sends: plausible Arabic articles, a bot challenge, XML and gzip
bombs."""

from __future__ import annotations

import random
import struct
import zlib

ARABIC = (
    "أعلنت الحكومة اليوم عن خطة جديدة لدعم قطاع التعليم في المدن والقرى، "
    "وقال وزير التربية إن الخطة تشمل بناء مدارس جديدة وتدريب المعلمين. "
    "وأضاف أن الميزانية المخصصة للمشروع تبلغ ملياري دولار على مدى خمس سنوات، "
    "وأن العمل سيبدأ في الربع الأول من العام المقبل بالتعاون مع المنظمات الدولية. "
)


WORDS = [
    "الحكومة",
    "المدينة",
    "الوزير",
    "الاقتصاد",
    "التعليم",
    "المستشفى",
    "البرلمان",
    "الانتخابات",
    "السوق",
    "النفط",
    "المطار",
    "الجامعة",
    "الشركة",
    "المحكمة",
    "الشرطة",
    "الميناء",
    "المزارعين",
    "الطلاب",
    "الأسعار",
    "الموازنة",
    "الصحة",
    "الطاقة",
    "المياه",
    "الكهرباء",
    "الطرق",
    "المدارس",
    "القمح",
    "التجارة",
    "السياحة",
    "الثقافة",
]


def article_html(title: str, paragraphs: int = 6, charset_meta: bool = True, seed: int = 0) -> str:
    """A plausible Arabic article; `seed` makes the text its own (near-duplicate checks)."""
    rng = random.Random(seed)
    meta = '<meta charset="utf-8">' if charset_meta else ""
    body = "".join(
        f"<p>{ARABIC} {' '.join(rng.choice(WORDS) for _ in range(40))}.</p>"
        for _ in range(paragraphs)
    )
    return (
        f'<!DOCTYPE html><html lang="ar" dir="rtl"><head>{meta}<title>{title}</title></head>'
        f"<body><header><nav>الرئيسية | سياسة | اقتصاد</nav></header>"
        f"<article><h1>{title}</h1>{body}</article><footer>حقوق النشر</footer></body></html>"
    )


CHALLENGE = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    "<noscript>Enable JavaScript and cookies to continue</noscript>"
    "<script>window._cf_chl_opt={cvId:'3'};</script>"
    '<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1"></script>'
    "</body></html>"
)

XML_BOMB = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">\n'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n' for i in range(9))
    + ']>\n<rss version="2.0"><channel><title>&j;</title>'
    "<item><title>x</title><link>http://example.invalid/x</link></item></channel></rss>"
)


_BOMB_CACHE: dict[int, bytes] = {}


def gzip_bomb(size: int) -> bytes:
    """`size` zero bytes (a multiple of 1 MiB) as one gzip member, built in ~0.1 s.

    After a full flush the compressor forgets its window, so every further 1 MiB of
    zeros compresses to the same bytes: the stream is one piece repeated, plus a
    hand-written gzip header and trailer.
    """
    if size not in _BOMB_CACHE:
        mib = b"\0" * 1_048_576
        n = size // len(mib)
        c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        first = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
        steady = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
        crc = 0
        for _ in range(n):
            crc = zlib.crc32(mib, crc)
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        trailer = struct.pack("<II", crc, (n * len(mib)) & 0xFFFFFFFF)
        _BOMB_CACHE[size] = header + first + steady * (n - 1) + c.flush() + trailer
    return _BOMB_CACHE[size]
