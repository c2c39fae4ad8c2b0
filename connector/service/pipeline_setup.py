"""The daemon's pipeline as the settings describe it: the batch limits, the memory budget,
and what is written beside each landed object (OCSF outputs and the search index)."""

from __future__ import annotations

from collections.abc import Sequence

from connector.budget import MEMORY
from connector.config.settings import OutputConfig, Settings
from connector.ingest.derived import Derivations, DerivedOutput
from connector.ingest.pipeline import BatchLimits, Observer, Pipeline
from connector.ocsf.output import outputs as ocsf_outputs
from connector.sinks.base import Sink
from connector.state import StateStore


def build_pipeline(
    settings: Settings, store: StateStore, sink: Sink, observers: Sequence[Observer]
) -> Pipeline:
    out, limits = settings.output, settings.limits
    MEMORY.configure(limits.pages_in_memory, limits.writes_at_once, limits.max_response_bytes)
    return Pipeline(
        store,
        sink,
        BatchLimits(
            out.prefix,
            out.batch_max_events,
            out.batch_max_bytes,
            out.hold_max_events,
            out.hold_max_bytes,
            out.spill_dir,
            out.partitions,
        ),
        observers=observers,
        derived=Derivations([*ocsf_outputs(settings.ocsf), *_search_index(settings.output, sink)]),
    )


def _search_index(output: OutputConfig, sink: Sink) -> list[DerivedOutput]:
    """What is written beside each landed object: the search index, unless turned off
    (stdout keeps nothing to index)."""
    if not output.search_index or output.type == "stdout":
        return []
    from connector.search.index import SearchIndex

    return [SearchIndex(sink, output.prefix)]
