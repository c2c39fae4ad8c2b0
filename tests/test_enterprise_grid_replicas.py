"""Enterprise Grid over two live replicas: two `slack-connector run` processes share one
DynamoDB table (moto's server mode on 127.0.0.1) and poll the workspace streams of one
`team_ids = "all"` source from the fake Slack. The streams are spread over both, and
every row of every workspace lands exactly once, those that arrive while both run too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.chaos.replicas import lease_owners
from tests.conftest import TOKEN, TOKEN_ENV, dynamodb_options, read_local, source
from tests.factories import access, config_file, now
from tests.fakes.slack_server import FakeSlack
from tests.test_daemon import wait_for
from tests.test_enterprise_grid import TEAMS, grid


def owners(endpoint: str, table: str) -> dict[str, str]:
    """Who holds each workspace stream's lease, from the table itself."""
    return {s: o for s, (o, _) in lease_owners(endpoint, table).items() if "@" in s}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_workspace_streams_spread_over_two_replicas_land_exactly_once(
    slack: FakeSlack, tmp_path: Path, moto_endpoint: str
) -> None:
    grid(slack, now())
    table = dynamodb_options(moto_endpoint).table
    out = tmp_path / "out"
    procs: list[subprocess.Popen[str]] = []
    for name in ("a", "b"):
        state = {"type": "dynamodb", "table": table, "region": "us-east-1",
                 "endpoint_url": moto_endpoint, "max_attempts": 5, "replica_id": name,
                 "lease_seconds": 3.0}  # fmt: skip
        src = source(slack, log_types=["access", "integration"], team_ids="all",
                     poll_interval_seconds=1)  # fmt: skip
        (tmp_path / name).mkdir()
        config = config_file(
            tmp_path / name,
            src,
            state=state,
            output={"type": "local", "path": str(out)},
            metrics={"enabled": False},
            alerts={"no_events_after_seconds": 0},
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "connector.cli.main", "run", "--config", str(config)],
                env={**os.environ, TOKEN_ENV: TOKEN},
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:

        def access_rows() -> list[dict[str, object]]:
            return [r for r in read_local(out) if r["p_log_type"] == "Slack.AccessLogs"]

        assert wait_for(lambda: len(access_rows()) >= 12, 90), "every workspace's access rows"
        assert wait_for(lambda: set(owners(moto_endpoint, table).values()) == {"a", "b"}, 90), (
            f"streams spread over both replicas: {owners(moto_endpoint, table)}"
        )
        for n, team in enumerate(TEAMS):
            more = [access("U7", "192.0.2.7", "Slack/2", now() - 2 + n)]
            slack.workspaces[team].add_access(more)
        assert wait_for(lambda: len(access_rows()) >= 15, 90), "rows that arrived while both ran"
        time.sleep(5)  # polls keep running on both: nothing lands twice meanwhile
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        errs = [proc.communicate(timeout=60)[1] for proc in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for e in errs]
    rows = read_local(out)
    ids = Counter(str(r["p_row_id"]) for r in rows)
    assert [i for i, n in ids.items() if n > 1] == [], "a row landed twice"
    by_team = Counter(
        str(r["p_slack_team_id"]) for r in rows if r["p_log_type"] == "Slack.AccessLogs"
    )
    assert by_team == {team: 5 for team in TEAMS}
    assert sum(1 for r in rows if r["p_log_type"] == "Slack.IntegrationLogs") == 6
