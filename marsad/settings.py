"""All tunable options in one settings object, so every stage reads the same values.

A settings file (`marsad run|serve --settings FILE.yaml`) sets any of them by name:

    batch_size: 20
    per_host_delay_s: 2.0
    watchlist: newsroom-watchlist.yaml   # relative to the settings file's folder

Unknown keys and bad values are errors naming the file, the line and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from marsad import __version__
from marsad.yamlfile import compose, describe, line_of, load_mapping, read_text

CONTACT_URL = "https://github.com/marsad-news/marsad"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # fetch
    user_agent: str = Field(
        default=f"marsad/{__version__} (+{CONTACT_URL})",
        description="User-Agent sent with every request; names marsad and a contact URL.",
    )
    timeout_s: float = Field(default=20.0, gt=0, description="Per-request timeout.")
    max_redirects: int = Field(default=5, ge=0, le=20)
    max_body_bytes: int = Field(default=10_000_000, gt=0, description="Abort reads past this.")
    max_attempts: int = Field(default=3, ge=1, description="Tries per URL within a run.")
    backoff_base_s: float = Field(default=0.5, ge=0, description="First retry delay.")
    backoff_max_s: float = Field(default=30.0, ge=0, description="Cap on any single wait.")
    global_concurrency: int = Field(default=16, ge=1)
    per_host_concurrency: int = Field(default=2, ge=1)
    per_host_delay_s: float = Field(default=1.0, ge=0, description="Min gap between requests.")
    allow_private_networks: bool = Field(
        default=False, description="Allow loopback/private targets (never link-local)."
    )
    max_fetch_time_s: float = Field(
        default=60.0, gt=0, description="Whole-response deadline: ends slow-drip bodies."
    )
    robots_ttl_s: float = Field(default=86_400.0, ge=0, description="robots.txt cache expiry.")
    retry_max_runs: int = Field(
        default=3, ge=1, description="Runs a transiently failing URL is tried in before quarantine."
    )
    conditional_verify_every: int = Field(
        default=10, ge=1, description="After this many 304s in a row, fetch a feed in full once."
    )
    discovery_window_days: float | None = Field(
        default=7.0, gt=0, description="Sitemap entries older than this are ignored (None: all)."
    )
    feed_window_days: float | None = Field(
        default=None, gt=0, description="Feed items older than this are ignored (None: all)."
    )
    max_sitemaps_per_source: int = Field(default=20, ge=1, description="Sitemap fetches per run.")
    archive_warc: bool = Field(default=True, description="Write responses to DIR/raw/*.warc.gz.")
    # budgets: a run ends on time; what it did not reach waits in the pending set
    max_run_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Wall-clock budget of a run; URLs not reached are deferred to the next run. "
        "None: 1 hour for `marsad run`, 80% of the schedule interval for `marsad serve`.",
    )
    max_host_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Time one host may take of a run's fetching (slow or trickling hosts); "
        "None: half of the run budget.",
    )
    # pipeline
    batch_size: int = Field(default=50, ge=1, description="Documents per Prefect task run.")
    max_items_per_feed: int = Field(default=500, ge=1)
    normalise_level: str = Field(default="aggressive", pattern="^(light|aggressive)$")
    runner: str = Field(
        default="threads",
        pattern=r"^(threads|processes|dask|tcp://\S+|tls://\S+)$",
        description="Where extract/normalise/tag run per batch: threads, processes, dask "
        "(a local cluster) or a Dask scheduler address such as tcp://10.0.0.5:8786.",
    )
    workers: int = Field(
        default=2, ge=1, description="Batches processed at once (threads/processes/local dask)."
    )
    # entities
    ner_backend: Literal["crf", "rules", "camel-bert"] = Field(
        default="crf",
        description="crf: the bundled model (rules if its file is missing); rules: rule tagger; "
        "camel-bert: camel-tools' BERT NER (needs `camel_data -i ner-arabert`).",
    )
    ner_neural: bool = Field(
        default=True,
        description="crf backend: mix the bundled BiLSTM into the CRF (test F1 72.7 vs 71.5; "
        "tagging about 4x slower, torch loaded). False: the CRF alone.",
    )
    watchlist: str | None = Field(
        default=None,
        description="Watchlist YAML for entity linking; None = the shipped seeds/watchlist.yaml.",
    )


class SettingsError(ValueError):
    """A settings file that cannot be used; the message is meant for the operator."""


def parse_settings(text: str, path: str = "<settings>") -> Settings:
    """Settings from YAML text: a mapping of Settings fields (an empty file: the defaults)."""
    expected = "a mapping of settings (key: value)"
    raw = load_mapping(text, path, None, SettingsError, expected=expected, empty_ok=True)
    tree = compose(text)  # load_mapping's strict loader has refused duplicate keys already
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        found = [(line_of(tree, e["loc"]) or 0, e) for e in exc.errors()]
        found.sort(key=lambda x: x[0])  # in the file's order
        lines = [describe(path, raw, e, line=n or None) for n, e in found]
        raise SettingsError("\n".join(lines)) from None


def load_settings(path: str | Path) -> Settings:
    """Read and validate a settings file, and the watchlist it names.

    A relative `watchlist` is taken from the settings file's folder and made absolute, so
    the settings mean the same from any working directory (a served flow run's, say).
    """
    p = Path(path)
    text = read_text(p, "settings", SettingsError)
    settings = parse_settings(text, str(p))
    if settings.watchlist is None:
        return settings
    watchlist = str((p.parent / settings.watchlist).resolve())
    settings = settings.model_copy(update={"watchlist": watchlist})
    from marsad.watchlist import WatchlistError, load_watchlist

    try:
        load_watchlist(watchlist)
    except WatchlistError as exc:
        line = line_of(compose(text), ["watchlist"])
        where = str(p) if line is None else f"{p}:{line}"
        raise SettingsError(f"{where}: key 'watchlist': {exc}") from None
    return settings
