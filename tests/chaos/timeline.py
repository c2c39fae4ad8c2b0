"""The timeline of each failover in a coverage chaos run, read back from the replicas' logs.

For a SIGKILL or SIGSTOP of replica R at time K, every `lease taken` line whose `from` is R
gives, for that stream (times in seconds after K):

* seen: when the taker first read the lease's last value (`watched_seconds` before it
  decided; it may be before K, when R's last renewal was);
* expired: seen + `lease_seconds`, the earliest the taker may take it;
* decided: when the taker sent the take (`take_seconds` before its log line);
* taken: the take's conditional write returned (the log line);
* poll start / poll end: the taker's first poll of the stream after it decided;

and the event's coverage (from the replicas' `/metrics`) when every stream was held again.
The event's timeline is that of its last stream taken; the steps between the marks say
which one holds the tail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.chaos.replicas import Fleet, _ts

STEPS = ("to seen", "watched", "to decide", "take", "to metric", "to poll", "poll")
"""The gaps between marks: K→seen, seen→expired (the lease), expired→decided,
decided→taken, taken→coverage seen in /metrics, taken→first poll start, the poll itself."""


@dataclass
class Take:
    replica: str
    stream: tuple[str, str]
    previous: str
    taken: float
    watched: float | None
    take: float
    poll_start: float | None = None
    poll_end: float | None = None

    @property
    def decided(self) -> float:
        return self.taken - self.take


@dataclass
class Line:
    """One failover: marks in seconds after the event."""

    kind: str
    replica: str
    at: float
    lease: float
    marks: dict[str, float | None] = field(default_factory=dict)
    released: int = 0
    """Leases handed back (to even out the spread) between the event and coverage: each
    leaves its stream uncovered until another replica takes it."""

    def steps(self) -> dict[str, float | None]:
        m = self.marks

        def gap(a: str, b: str) -> float | None:
            x, y = m.get(a), m.get(b)
            return None if x is None or y is None else y - x

        return {
            "to seen": m.get("seen"),
            "watched": gap("seen", "decided"),
            "to decide": gap("expired", "decided"),
            "take": gap("decided", "taken"),
            "to metric": gap("taken", "covered"),
            "to poll": gap("taken", "poll start"),
            "poll": gap("poll start", "poll end"),
        }


def _records(fleet: Fleet) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for inc in fleet.all:
        for raw in inc.log.read_bytes().splitlines():
            try:
                rec = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if rec.get("message") in ("lease taken", "poll done", "lease released"):
                out.append((inc.replica_id, rec))
    return out


def takes(fleet: Fleet) -> list[Take]:
    """Every lease taken from another replica, with the taker's first poll after it."""
    records = _records(fleet)
    polls: dict[tuple[str, tuple[str, str]], list[tuple[float, float]]] = {}
    for replica, rec in records:
        if rec["message"] == "poll done":
            end = _ts(rec["time"])
            key = (replica, (rec["source_id"], rec["log_type"]))
            polls.setdefault(key, []).append((end - float(rec["seconds"]), end))
    out = []
    for replica, rec in records:
        if rec["message"] != "lease taken" or not rec.get("from"):
            continue
        stream = (rec["source_id"], rec["log_type"])
        t = Take(
            replica,
            stream,
            rec["from"],
            _ts(rec["time"]),
            rec.get("watched_seconds"),
            float(rec.get("take_seconds") or 0.0),
        )
        after = sorted(p for p in polls.get((replica, stream), []) if p[0] >= t.decided - 0.05)
        if after:
            t.poll_start, t.poll_end = after[0]
        out.append(t)
    return out


def lines(events: list[Any], fleet: Fleet, lease: float, until: float | None = None) -> list[Line]:
    """One timeline per event (`coverage.Event`: kind, replica, at, recovered)."""
    all_takes = takes(fleet)
    releases = [_ts(r["time"]) for _, r in _records(fleet) if r["message"] == "lease released"]
    out = []
    for i, e in enumerate(events):
        nxt = events[i + 1].at if i + 1 < len(events) else (until or float("inf"))
        mine = [t for t in all_takes if t.previous == e.replica and e.at < t.taken <= nxt]
        line = Line(e.kind, e.replica, e.at, lease)
        if e.recovered is not None:
            line.marks["covered"] = e.recovered
        end = e.at + e.recovered if e.recovered is not None else nxt
        line.released = sum(1 for r in releases if e.at < r <= end)
        if mine:
            last = max(mine, key=lambda t: t.taken)
            rel = last.taken - e.at
            line.marks["taken"] = rel
            line.marks["decided"] = rel - last.take
            if last.watched is not None:
                line.marks["seen"] = rel - last.take - last.watched
                line.marks["expired"] = line.marks["seen"] + lease
            if last.poll_start is not None and last.poll_end is not None:
                line.marks["poll start"] = last.poll_start - e.at
                line.marks["poll end"] = last.poll_end - e.at
        out.append(line)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def _step(line: Line, step: str) -> float | None:
    return line.marks.get("covered") if step == "covered" else line.steps()[step]


def summary(timelines: list[Line]) -> list[tuple[str, float, float, float, float | None]]:
    """Per step (and coverage itself): p50, p99 and max over the events that have it, and
    the step in the slowest failover, so the step that holds the tail stands out."""
    slowest = max(timelines, key=lambda t: t.marks.get("covered") or 0.0, default=None)
    out = []
    for step in ("covered", *STEPS):
        values = [v for t in timelines if (v := _step(t, step)) is not None]
        if values:
            worst = _step(slowest, step) if slowest else None
            out.append(
                (step, percentile(values, 0.5), percentile(values, 0.99), max(values), worst)
            )
    return out


def report(timelines: list[Line]) -> str:
    cols = ("covered", *STEPS)
    head = "".join(f"{s:>11}" for s in (*cols, "released"))
    rows = [f"failover timeline (s; steps between marks):\n  {'event':<24}{head}"]
    for t in timelines:
        cells = [_step(t, s) for s in cols]
        text = "".join(f"{c:>11.2f}" if c is not None else f"{'-':>11}" for c in cells)
        text += f"{t.released:>11}"
        rows.append(f"  {t.kind + ' ' + t.replica:<24}{text}")
    rows.append(f"  {'step':<12}{'p50':>8}{'p99':>8}{'max':>8}{'slowest':>9}")
    for step, p50, p99, top, worst in summary(timelines):
        w = f"{worst:>9.2f}" if worst is not None else f"{'-':>9}"
        rows.append(f"  {step:<12}{p50:>8.2f}{p99:>8.2f}{top:>8.2f}{w}")
    return "\n".join(rows)
