"""Fence chaos: a replica frozen with its upload on the wire lands nothing twice.

Two `slack-connector run` replicas share one source (three streams) through DynamoDB;
replica 0 reaches S3 through a proxy that holds its next data upload (`S3Proxy.hold`).
As soon as the upload is held, replica 0 is SIGSTOPped: its lease lapses, replica 1 takes
its streams, settles the intent of the held object (it never landed) and writes the same
rows again, with the live events since, under another key. Then the held upload is let
go, replica 0 is continued, and everything is counted. Without a fence S3 stores the late
object and its rows land twice; with it, S3 answers 412.

    python -m tests.chaos.fence [--seed N] [--no-fence]
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import boto3

from connector.sinks.s3 import TOMBSTONE
from tests.chaos.replicas import Fleet, Knobs, Result, Stage, lease_owners
from tests.fakes.moto_server import moto_endpoint
from tests.fakes.s3_proxy import S3Proxy


class ProxiedFleet(Fleet):
    """Replica slot 0 writes to S3 through the proxy; every replica may run unfenced."""

    def __init__(
        self, workdir: Path, config: Path, knobs: Knobs, proxy: str, *, fence: bool
    ) -> None:
        super().__init__(workdir, config, knobs)
        self.proxy, self.fence = proxy, fence

    def env(self, replica_id: str) -> dict[str, str]:
        env = super().env(replica_id)
        if replica_id.startswith("slot0-"):
            env["SLACK_CONNECTOR__OUTPUT__ENDPOINT_URL"] = self.proxy
        if not self.fence:
            env["SLACK_CONNECTOR__OUTPUT__CONDITIONAL_WRITES"] = "false"
        return env


@dataclass
class Outcome:
    result: Result
    held: str
    late_status: int | None
    """What S3 answered the held upload when it finally arrived (412: fenced)."""
    at_key: str
    """What stood at the held object's key before the upload was let go: "tombstone" (the
    new holder settled it), "object" (it then wrote the same rows there again, replacing
    its tombstone) or "nothing" (no fence)."""
    refused: int
    """`lease moved` lines replica 0 logged after it was continued."""

    def report(self) -> str:
        return (
            f"{self.result.report()}\nheld upload {self.held}: S3 answered {self.late_status} "
            f"when it arrived; at its key before: {self.at_key}; "
            f"replica 0 polls ended on the lease after SIGCONT: {self.refused}"
        )


def run(workdir: Path, endpoint: str, *, seed: int = 5, fence: bool = True) -> Outcome:
    knobs = Knobs(sources=1, replicas=2, lease_seconds=3.0, renew_seconds=0.5)
    with S3Proxy(endpoint) as proxy, Stage(workdir, endpoint, knobs, seed=seed) as stage:
        fleet = ProxiedFleet(workdir, stage.config, knobs, proxy.url, fence=fence)
        stage.fleet = fleet
        fleet.start(0)
        fleet.start(1)
        stage.wait_balanced()
        frozen, other = fleet.live[0], fleet.live[1].replica_id
        hold = proxy.hold("/Slack.")
        if not hold.arrived.wait(60):
            raise AssertionError("replica 0 uploaded nothing in 60 s")
        frozen.proc.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 10 * knobs.lease_seconds
        while time.monotonic() < deadline:
            owners = {o for o, _ in lease_owners(endpoint, stage.table).values()}
            if owners == {other}:
                break
            time.sleep(0.3)
        else:
            raise AssertionError("replica 1 never took replica 0's streams")
        time.sleep(3 * knobs.poll_interval + 2)
        assert hold.path is not None
        key = unquote(hold.path.split("?")[0].split(f"/{stage.bucket}/", 1)[1])
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        try:
            head = s3.head_object(Bucket=stage.bucket, Key=key)
            at_key = "tombstone" if TOMBSTONE in head.get("Metadata", {}) else "object"
        except s3.exceptions.ClientError:
            at_key = "nothing"
        hold.release.set()
        for _ in range(100):
            if hold.status is not None:
                break
            time.sleep(0.1)
        continued = time.time()
        frozen.proc.send_signal(signal.SIGCONT)
        time.sleep(2.0)
        result = stage.finish()
        refused = [
            r
            for r in fleet.log_lines(frozen, "lease moved to another replica")
            if _after(r, continued)
        ]
    return Outcome(result, key, hold.status, at_key, len(refused))


def _after(record: dict[str, object], t: float) -> bool:
    from tests.chaos.replicas import _ts

    return _ts(str(record["time"])) >= t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--no-fence", action="store_true", help="conditional_writes = false")
    args = parser.parse_args()
    with moto_endpoint() as endpoint, tempfile.TemporaryDirectory() as tmp:
        outcome = run(Path(tmp), endpoint, seed=args.seed, fence=not args.no_fence)
    print(outcome.report())
    return 0 if outcome.result.exact() else 1


if __name__ == "__main__":
    sys.exit(main())
