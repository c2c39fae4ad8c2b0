"""Several replicas share sources through DynamoDB: SIGKILLed at random and restarted,
they still land every event exactly once, fail over within two lease periods plus one
poll interval, and never poll one stream twice at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.replicas import Knobs, run


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_replicas_killed_at_random_land_every_event_once_and_fail_over_in_time(
    tmp_path: Path, moto_endpoint: str
) -> None:
    seed = int(os.environ["CHAOS_SEED"]) if os.environ.get("CHAOS_SEED") else None
    result = run(
        tmp_path / "replicas", moto_endpoint, seed=seed, seconds=40, knobs=Knobs(sources=4)
    )
    report = result.report()
    print(report)
    assert result.kills >= 4, report
    assert result.exact(), report
    assert all(c.expected > 0 for counts, _ in result.counts.values() for c in counts), report
    assert result.overlaps == [], report
    assert result.failovers, report
    assert max(f for *_, f in result.failovers) <= result.bound, report
