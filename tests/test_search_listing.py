"""A search lists only what it needs (`search.listing`), and answers as if it listed all.

A day whose objects one compacted file covers is answered from the file named for them,
without listing its index folder; a day with an object landed after its file was
written, or with an object gone that its file names, has its folder listed and
`compact.choose`'s rule picks (or refuses) a file. Per-object indexes are listed under
the days that need them. The counts and rows stay the rule's in every case.
"""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from connector.config.settings import OutputConfig
from connector.indicators.match import parse
from connector.search import compact, index, listing
from connector.search.query import Searcher
from connector.search.results import Window

IP = "198.51.100.7"
WINDOW = Window(
    datetime.fromisoformat("2026-11-01T00:00:00Z"), datetime.fromisoformat("2026-11-30T23:59:59Z")
)


def key(day: int, n: int) -> str:
    return f"Slack.AuditLogs/year=2026/month=11/day={day}/hour=1/o{n}.json.gz"


def body(day: int, n: int, rows: int) -> bytes:
    lines = [
        orjson.dumps({"details": IP, "n": n, "p_event_time": f"2026-11-{day:02d}T01:{m:02d}:00Z"})
        for m in range(rows)
    ]
    return b"\n".join(lines) + b"\n"


def land(root: Path, day: int, n: int, rows: int, indexed: bool = False) -> str:
    path = root / "p" / key(day, n)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(body(day, n, rows)))
    if indexed:
        where = root / str(index.index_key(f"p/{key(day, n)}", "p"))
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_bytes(index.build(body(day, n, rows).splitlines()))
    return key(day, n)


def compacted(root: Path, day: int, objects: dict[str, bytes]) -> str:
    name = compact.name(f"Slack.AuditLogs/year=2026/month=11/day={day}", list(objects))
    (root / "p" / name).parent.mkdir(parents=True, exist_ok=True)
    (root / "p" / name).write_bytes(compact.build(list(objects), objects.__getitem__))
    return name


@pytest.fixture
def globbed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every pattern the search lists."""
    seen: list[str] = []
    real = listing.glob

    def spy(db: Any, pattern: str) -> list[str]:
        seen.append(pattern)
        return real(db, pattern)

    monkeypatch.setattr(listing, "glob", spy)
    return seen


def search(root: Path, limit: int = 100) -> tuple[int, list[int], dict[str, list[str]]]:
    """The count, the `n` of the rows shown, and the day files chosen."""
    searcher = Searcher(OutputConfig(type="local", path=str(root), prefix="p"))
    try:
        found = searcher.find([parse(IP)], WINDOW, limit=limit, tally=False)
        files = searcher.files(WINDOW, ["Slack.AuditLogs"])
        chosen = listing.day_files(searcher._db, searcher.root, files, files)
    finally:
        searcher.close()
    return found.total, sorted(h.row["n"] for h in found.hits), chosen


def test_a_fully_covered_day_is_read_from_its_named_file_without_listing_it(
    tmp_path: Path, globbed: list[str]
) -> None:
    objects = {land(tmp_path, 2, n, 3): body(2, n, 3) for n in range(3)}
    name = compacted(tmp_path, 2, objects)
    total, shown, chosen = search(tmp_path)
    assert (total, shown) == (9, [0, 0, 0, 1, 1, 1, 2, 2, 2])
    assert list(chosen) == [f"{tmp_path / 'p'}/{name}"]
    assert not [p for p in globbed if f"/{index.INDEX}/" in p], globbed


def test_a_late_object_sends_its_day_to_the_listing_and_is_still_counted(
    tmp_path: Path, globbed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "PAGE", 1)  # as if the months held thousands of objects
    objects = {land(tmp_path, 2, n, 3): body(2, n, 3) for n in range(2)}
    name = compacted(tmp_path, 2, objects)
    land(tmp_path, 2, 7, 2)  # after the day was compacted, no index
    land(tmp_path, 3, 8, 1, indexed=True)  # another day, its per-object index only
    total, shown, chosen = search(tmp_path)
    assert (total, shown) == (9, [0, 0, 0, 1, 1, 1, 7, 7, 8])
    assert list(chosen) == [f"{tmp_path / 'p'}/{name}"]
    day_folders = [p for p in globbed if p.endswith(f"day=2/*{compact.SUFFIX}")]
    assert day_folders, globbed
    per_day = [p for p in globbed if p.endswith(f"/**/*{index.SUFFIX}")]
    assert sorted(p.split("/")[-3] for p in per_day) == ["day=2", "day=3"], per_day
    monkeypatch.setattr(listing, "PAGE", 1000)  # a month's folder is then one request
    globbed.clear()
    assert search(tmp_path)[:2] == (total, shown)
    per_month = [p for p in globbed if p.endswith(f"/**/*{index.SUFFIX}")]
    assert [p.split("/")[-3] for p in per_month] == ["month=11"], per_month


def test_a_day_file_naming_a_missing_object_is_not_used(tmp_path: Path) -> None:
    objects = {land(tmp_path, 2, n, 2): body(2, n, 2) for n in range(3)}
    compacted(tmp_path, 2, objects)
    (tmp_path / "p" / key(2, 1)).unlink()  # gone after compaction (retention)
    total, shown, chosen = search(tmp_path)
    assert (total, shown, chosen) == (4, [0, 0, 2, 2], {})


def test_of_two_files_the_one_covering_the_present_objects_is_used(tmp_path: Path) -> None:
    """A day compacted again after a late object: the newer file covers every object,
    is the one named for them, and is used; the older one is not."""
    objects = {land(tmp_path, 2, n, 1): body(2, n, 1) for n in range(2)}
    compacted(tmp_path, 2, objects)
    objects[land(tmp_path, 2, 5, 2)] = body(2, 5, 2)
    newer = compacted(tmp_path, 2, objects)
    total, shown, chosen = search(tmp_path)
    assert (total, shown) == (4, [0, 1, 5, 5])
    assert list(chosen) == [f"{tmp_path / 'p'}/{newer}"]


def test_over_s3_the_same_answers_come_from_side_by_side_reads(
    tmp_path: Path, s3_bucket: tuple[Any, str], moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same tree in moto: day files found by name or by listing their day, their
    footers and stats read side by side, the rows' objects fetched side by side; a late
    object, a file naming a missing object, per-object indexes (read side by side) and
    objects without any index (scanned side by side) as locally."""
    monkeypatch.setattr(listing, "PAGE", 1)
    full = {land(tmp_path, 2, n, 3): body(2, n, 3) for n in range(12)}
    compacted(tmp_path, 2, full)
    early = {land(tmp_path, 3, n, 2): body(3, n, 2) for n in range(20, 23)}
    compacted(tmp_path, 3, early)
    land(tmp_path, 3, 30, 2)  # late
    gone = {land(tmp_path, 4, n, 1): body(4, n, 1) for n in range(40, 43)}
    compacted(tmp_path, 4, gone)
    (tmp_path / "p" / key(4, 41)).unlink()
    for n in range(50, 60):  # per-object indexes only: a key in one row or in two
        land(tmp_path, 5, n, 1 + n % 2, indexed=True)
    for n in range(60, 63):  # no index at all: scanned, side by side
        land(tmp_path, 6, n, 2)
    client, bucket = s3_bucket
    for path in (tmp_path / "p").rglob("*"):
        if path.is_file():
            client.put_object(
                Bucket=bucket, Key=f"p/{path.relative_to(tmp_path / 'p')}", Body=path.read_bytes()
            )
    remote = Searcher(
        OutputConfig(
            type="s3", bucket=bucket, prefix="p", region="us-east-1", endpoint_url=moto_endpoint
        )
    )
    try:
        for limit in (1, 5, 10, 100):
            found = remote.find([parse(IP)], WINDOW, limit=limit, tally=False)
            total, shown, _ = search(tmp_path, limit)
            assert found.total == total == 36 + 8 + 2 + 15 + 6
            assert sorted(h.row["n"] for h in found.hits) == shown
        files = remote.files(WINDOW, ["Slack.AuditLogs"])
        chosen = listing.day_files(remote._db, remote.root, files, files)
        assert sorted(f.split("/")[-2] for f in chosen) == ["day=2", "day=3"]
    finally:
        remote.close()


def test_a_named_day_file_deleted_before_it_is_read_sends_the_search_round_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by name, then gone (a sweep, a restore) before the search reads it: the read
    fails, `listing.gone` sees the name no longer there, and the search starts over
    (finding no day file, so it scans) with the rule's answer."""
    from connector.search import daylookup

    objects = {land(tmp_path, 2, n, 2): body(2, n, 2) for n in range(3)}
    name = compacted(tmp_path, 2, objects)
    real = daylookup.plan
    calls: list[int] = []

    def deleting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            (tmp_path / "p" / name).unlink()
        return real(*args, **kwargs)

    monkeypatch.setattr(daylookup, "plan", deleting)
    total, shown, chosen = search(tmp_path)
    assert (total, shown, chosen) == (6, [0, 0, 1, 1, 2, 2], {})
    assert len(calls) == 1  # the second round found no day file to read
