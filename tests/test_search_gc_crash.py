"""A SIGKILL anywhere in `slack-connector index --compact` (and its gc step) loses nothing.

A child process runs the real command (`--grace 0`, so it deletes in the same run) over
a local output of closed days: per-object indexes, a day file an object landed after,
day files of the older format. It is killed (SIGKILL, nothing runs after it) either
right after its n-th write or delete, whatever it was, or after a delay. After each
kill, and after a rerun in this process that must finish the work, every data object is
still there, no per-object index went whose object the chosen day file does not cover,
no day file a search chooses is gone, and every search counts what the scan counts.
"""

from __future__ import annotations

import gzip
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from connector.search import compact, index
from tests.test_search_gc import Output
from tests.test_search_index import check_found, indicators

CHILD = """
import os, signal, sys
from connector.sinks.local import LocalSink

done = [0]
def killing(method):
    def run(self, *args, **kwargs):
        method(self, *args, **kwargs)
        done[0] += 1
        if done[0] == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)
    return run

if int(sys.argv[2]):
    LocalSink.put = killing(LocalSink.put)
    LocalSink.delete = killing(LocalSink.delete)
from connector.cli.main import main
sys.exit(main(["index", "--config", sys.argv[1], "--since", "2026-10-01", "--compact",
               "--grace", "0", "--log-level", "ERROR"]))
"""
WANTED = ["evil.example", "198.51.100.7", "W0123ABCD"]
SINCE, UNTIL = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)


def landed(root: Path) -> tuple[Output, int]:
    """Four closed days of three objects each, every object with its per-object index;
    day 2 also compacted before its last object landed; every day in the older format.
    Returns the output and how many writes and deletes a full run makes."""
    out = Output(root)
    keys: list[str] = []
    for day in (1, 2, 3, 4):
        for n in range(3):
            rows_ = [
                {"details": "evil.example", "p_event_time": f"2026-11-0{day}T0{n}:00:00Z"},
                {
                    "context": {"ip_address": "198.51.100.7"},
                    "user": "W0123ABCD",
                    "p_event_time": f"2026-11-0{day}T0{n}:30:00Z",
                },
            ]
            keys.append(out.land(day, rows_ * (n + 1), True).removeprefix("p/"))
    early = keys[3:5]
    body = compact.build(early, lambda k: gzip.decompress(out.sink.get(f"p/{k}")))
    out.sink.put(f"p/{compact.name(compact.day_of(early[0]) or '', early)}", body)
    with mock.patch.object(compact, "VERSION", "1"):
        with mock.patch.object(compact, "SUFFIX", ".c1.parquet"):
            out.compact()
    return out, 4 + 12 + 4 + 1  # day files written; indexes, old files, superseded deleted


def check(out: Output, landed_: set[str], chosen_before: dict[str, list[str]]) -> None:
    """After a kill: no data object lost, no chosen file gone unless one covering a
    superset replaced it, no per-object index gone whose object the chosen day file does
    not cover, every count exact."""
    assert landed_ == out.files("*.json.gz")
    now = out.files("*.parquet")
    chosen = out.chosen()
    covered = {o for objects in chosen.values() for o in objects}
    for file, objects in chosen_before.items():
        assert file in now or set(objects) <= covered, file
    for key in landed_:
        assert str(index.index_key(key, "p")) in now or key in covered, key
    check_found(out.root, indicators(WANTED), out.rows, SINCE, UNTIL, 5)


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "kill",
    [
        "after 1",
        "after 3",
        "after 5",
        "after 9",
        "after 14",
        "after 19",
        "after 21",
        "delay 0.5",
        "delay 1.5",
        "delay 3",
    ],
)
def test_sigkill_during_index_compact_and_gc(
    slack: Any, tmp_path: Path, capsys: Any, kill: str
) -> None:
    from connector.cli.main import main
    from tests.test_search import write_config

    out, steps = landed(tmp_path / "out")
    config = write_config(tmp_path, slack, {"type": "local", "path": str(out.root), "prefix": "p"})
    every = out.files("*.json.gz")
    check(out, every, {})
    before = out.chosen()
    how, amount = kill.split()
    after = int(amount) if how == "after" else 0
    assert after <= steps
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, config, str(after)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if how == "delay":
        time.sleep(float(amount))
        child.send_signal(signal.SIGKILL)
    _, err = child.communicate(timeout=300)
    assert child.returncode in ((-signal.SIGKILL,) if after else (-signal.SIGKILL, 0)), err
    check(out, every, before)
    capsys.readouterr()
    rerun = ["index", "--config", config, "--since", "2026-10-01", "--compact", "--grace", "0"]
    assert main(rerun) == 0
    said = capsys.readouterr().out
    idle = "compacted 0 day(s)" in said and "deleted 0 index file(s)" in said
    assert idle == (after == steps) or not after, said  # work left exactly when it was due
    check(out, every, before)
    left = out.files("*.parquet")
    chosen = out.chosen()
    assert len(chosen) == 4 and set(chosen) == left  # one file a day, nothing else
    assert sorted(o for objs in chosen.values() for o in objs) == sorted(every)
