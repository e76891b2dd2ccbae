"""What the story matcher compares: light-stemmed words of the title and lead, entity keys.

Words rather than raw character n-grams: a stem cut to `STEM` letters after the article-bearing
proclitics are split absorbs most Arabic inflection (الوزارة/وزارات/بالوزارة share وزار) at a
fifth of the keys of char 3-5-grams, which keeps the inverted index small (docs/stories.md).
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from itertools import islice

from marsad.text.arabic import fold_token
from marsad.text.clitics import strip_clitics

STEM = 5  # letters kept of a stem (docs/stories.md: 4, 5, 6 and unlimited were measured)
LEAD_WORDS = 60  # words of text_norm after the title that describe the event
TITLE_WEIGHT = 2  # a title word counts as this many lead words
MIN_STEM = 2

_WORD = re.compile(r"[^\W\d_]+|\d[\d.,٫]*\d|\d")
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_SUFFIXES = ("ات", "ون", "ين", "ه")  # plural and feminine endings (teh marbuta is folded to ه)
MIN_NUMBER = 2  # digits: 390, 13970, 35 name an event; 1 to 9 are too common
# Function words that survive folding and stemming; IDF discounts the rest.
_STOP_WORDS = (
    "في من على إلى عن أن إن التي الذي الذين هذا هذه ذلك تلك كان كانت قد لا لم لن ما مع "
    "بعد قبل عند حيث كما أو ثم بين حتى خلال وقال قال وأضاف أضاف وأوضح أوضح أكد وأكد "
    "إلى أي كل غير بن عبد هو هي هم وفي ومن وعلى ولا وأن التى الى اليوم أمس يوم"
)
STOP = frozenset(fold_token(w) for w in _STOP_WORDS.split())


# News repeats its words: fold and split clitics once per distinct word, not per use.
@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str | None:
    if word[0].isdigit():
        digits = "".join(c for c in word.translate(_DIGITS) if c.isdigit())
        return "#" + digits if len(digits) >= MIN_NUMBER else None
    folded = fold_token(word)
    if folded in STOP:
        return None
    _pre, rest = strip_clitics(folded)
    if len(rest) < MIN_STEM or rest in STOP:
        return None
    for suffix in _SUFFIXES:
        if rest.endswith(suffix) and len(rest) - len(suffix) >= 3:
            rest = rest[: -len(suffix)]
            break
    return rest[:STEM]


def words(text: str | None, limit: int | None = None) -> list[str]:
    """The first `limit` words, without splitting the rest of a long article."""
    found = _WORD.finditer(text or "")
    return [m.group() for m in (islice(found, limit) if limit is not None else found)]


def terms(title: str | None, text_norm: str | None) -> Counter[str]:
    """Stem counts of the title (weighted) and of the lead of the normalised text."""
    out: Counter[str] = Counter()
    for word in words(title):
        s = stem(word)
        if s is not None:
            out[s] += TITLE_WEIGHT
    lead = words(text_norm, LEAD_WORDS + len(out))  # the text often repeats the title first
    for word in lead:
        s = stem(word)
        if s is not None:
            out[s] += 1
    return out
