"""The `ingest-chunk` task: read one chunk of a WARC file and process its pages."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from marsad.ingest import Chunk, ingest_chunk
from marsad.ingest_select import Selection
from marsad.settings import Settings


@task(name="ingest-chunk", cache_policy=NO_CACHE)
def ingest_chunk_task(
    uri: str, offset: int, selection: Selection, settings: Settings, run_id: str
) -> Chunk:
    return ingest_chunk(uri, offset, selection, settings, run_id)
