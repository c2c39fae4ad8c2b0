"""DynamoDB as it answers under stress (throttles, 500s, conflicts, resets, answers lost
after the write applied, transactions held 2-5 s, and the conflicts in-flight
transactions cause), through `tests.fakes.dynamodb_proxy`: one process and three
replicas land every event exactly once, fail no poll, keep every stream covered within
2 lease periods + one poll, and no lease renewal ever meets a commit.

The longer run with its figures: `python -m bench.dynamodb_faults`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.dynamo_faults import run


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("replicas", [1, 3])
def test_state_table_faults_fail_no_poll_lose_nothing_and_leave_no_stream_uncovered(
    tmp_path: Path, moto_endpoint: str, replicas: int
) -> None:
    done = run(tmp_path / "faults", moto_endpoint, replicas=replicas, rate=0.08, seconds=25)
    report = done.report()
    print(report)
    assert done.injected >= 40, report
    assert done.exact(), report
    assert done.lines["failed polls"] == 0, report
    assert done.lines["state store failed"] == 0, report
    assert done.lines["expired before renewal"] == 0, report
    assert max(done.gaps, default=0.0) <= done.bound, report
    assert done.contended.get("L", 0) == 0, "a renewal met a commit on the lease item"
    if replicas == 1:
        assert done.lines["lease moved"] == 0, report
