"""One monitor run over the demo site, shared by every test module that reads its output.

A run costs seconds (the flow, the tagger); the names, search and README-example tests all
read the same output, so the first module to ask runs it and the others reuse it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from marsad.demo import demo_root, demo_sources_yaml, serve_directory
from marsad.settings import Settings

FAST = Settings(
    allow_private_networks=True, per_host_delay_s=0.0, backoff_base_s=0.01, ner_neural=False
)


@dataclass(frozen=True)
class DemoRun:
    root: Path  # holds `data/`, the output, so README examples run with root as the cwd
    out: Path
    result: dict[str, object]
    entities_md: str  # the run's `run-entities` markdown artifact, read back from Prefect


_RUNS: list[DemoRun] = []


def _artifact(run_id: str, key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    wanted = ArtifactFilter(
        key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])
    )
    with get_client(sync_client=True) as client:
        (art,) = client.read_artifacts(artifact_filter=wanted)
    return str(art.data)


def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The session's demo run (needs the `prefect_harness` fixture active)."""
    if not _RUNS:
        from marsad.flows.monitor import monitor

        root = tmp_path_factory.mktemp("demo-run")
        out = root / "data"
        sources = root / "sources.yaml"
        with serve_directory(demo_root()) as base:
            sources.write_text(demo_sources_yaml(base), encoding="utf-8")
            result = monitor(
                sources=str(sources), out=str(out), allow_private_networks=True, settings=FAST
            )
        md = _artifact(str(result["run_id"]), "run-entities")
        _RUNS.append(DemoRun(root, out, result, md))
    return _RUNS[0]
