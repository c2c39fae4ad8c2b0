"""A replica frozen (SIGSTOP) with its upload on the wire lands no row twice: the new
holder settles the upload's intent with a tombstone at its key, and when the upload
finally arrives S3 answers 412 (`tests/chaos/fence.py` has the scenario; its
`--no-fence` run shows the same upload landing, and rows twice)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.fence import run


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_an_upload_arriving_after_its_intent_was_settled_is_refused_by_s3(
    tmp_path: Path, moto_endpoint: str
) -> None:
    outcome = run(tmp_path / "fence", moto_endpoint)
    report = outcome.report()
    print(report)
    assert outcome.at_key in ("tombstone", "object"), report
    assert outcome.late_status == 412, report
    assert outcome.refused >= 1, report
    assert outcome.result.exact(), report
    assert outcome.result.overlaps == [], report
