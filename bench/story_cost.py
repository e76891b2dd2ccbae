"""Cost of StoryIndex.assign on a synthetic stream: ms an article and peak RSS.

The stream imitates a news day's shape, not its language: each story draws its title and lead
from its own 12 words and 5 entities plus a Zipf-distributed common vocabulary, 1 to 5
articles over up to 36 hours; about `live` stories open per 72 hours, so once the stream spans
more than the window (about 3 * live articles) up to ~12,800 stories are live. The timed
part is `assign`; `trim` (once per batch, as the writer does) is timed apart. Both the wall
time and the process's CPU time are printed: on a shared machine the wall time says as much
about the neighbours as about the code.
"""

from __future__ import annotations

import itertools
import random
import resource
import time
from datetime import UTC, datetime, timedelta

from marsad.story_match import StoryDoc, StoryIndex

ALPHABET = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
WINDOW = timedelta(hours=72)
BATCH = 500


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(3, 8)))


def stream(n: int, live: int = 10_000, seed: int = 15) -> list[StoryDoc]:
    """n docs in `when` order; about `live` stories open per 72 hours."""
    rng = random.Random(seed)
    common = [_word(rng) for _ in range(30_000)]
    cum = list(itertools.accumulate(1.0 / (k + 1) for k in range(len(common))))
    people = [f"PERS:{_word(rng)} {_word(rng)}" for _ in range(40_000)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    per_story = 3.0  # mean articles a story
    step = WINDOW / (live * per_story)  # time between two articles
    docs: list[tuple[datetime, int, StoryDoc]] = []
    story = 0
    while len(docs) < n:
        opened = start + step * len(docs)
        own = [_word(rng) for _ in range(12)]
        ents = rng.sample(people, 5)
        first_id = f"s{story}-0"
        for k in range(min(rng.randint(1, 5), n - len(docs))):
            when = opened + timedelta(hours=rng.uniform(0, 36) if k else 0)
            title = " ".join(rng.sample(own, 5) + rng.choices(common, cum_weights=cum, k=3))
            lead = " ".join(rng.choices(own, k=15) + rng.choices(common, cum_weights=cum, k=45))
            dup = first_id if k and rng.random() < 0.2 else None
            doc = StoryDoc(
                f"s{story}-{k}",
                when,
                f"outlet{rng.randint(0, 13)}",
                title,
                lead,
                tuple(rng.sample(ents, 3)),
                dup,
            )
            docs.append((when, len(docs), doc))
        story += 1
    docs.sort(key=lambda t: (t[0], t[1]))
    return [d for _, _, d in docs]


def cost(n: int) -> None:
    docs = stream(n)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    index = StoryIndex(WINDOW)
    times: list[float] = []
    cpu: list[float] = []
    trimming = 0.0
    peak_live = peak_docs = 0
    for k, doc in enumerate(docs):
        t, c = time.perf_counter(), time.process_time()
        index.assign(doc)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        if k % BATCH == BATCH - 1:  # the writer trims after each batch
            t = time.perf_counter()
            index.trim()
            trimming += time.perf_counter() - t
            peak_live = max(peak_live, len(index.stories))
            peak_docs = max(peak_docs, sum(s.n for s in index.stories.values()))
    tail = times[len(times) // 2 :]  # the second half: the window is full by then
    cpu_tail = cpu[len(cpu) // 2 :]
    times.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"{n:>7} articles: {1000 * sum(times) / len(times):.2f} ms/article mean, "
        f"{1000 * sum(tail) / len(tail):.2f} second half (CPU {1000 * sum(cpu) / n:.2f}, "
        f"{1000 * sum(cpu_tail) / len(cpu_tail):.2f}), "
        f"p99 {1000 * times[int(0.99 * len(times))]:.2f}, trim {1000 * trimming / n:.3f}; "
        f"live stories at end {len(index.stories)} (peak {peak_live}, holding up to {peak_docs} "
        f"articles); peak RSS {rss / 1024:.0f} MiB "
        f"({(rss - rss_before) / 1024:.0f} MiB while assigning)"
    )
