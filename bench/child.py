"""One measured run in a fresh interpreter: `python -m bench.child SPEC.json RESULT.json`.

A fresh process per run makes peak RSS (VmHWM) and CPU time (`getrusage`, all threads)
belong to that run alone: the fake Slack server, its dataset and the moto S3
server live in the parent. Wall and CPU cover the work only (imports and interpreter
start-up excluded); `base_rss_mb` is the peak RSS once everything is imported, before work.

Jobs:
  connector  `connector.service.app.App(settings).once()`, optionally under cProfile or pyinstrument
  floor      the least a client can do: fetch the same pages with httpx, parse with orjson,
             write every entry back as an NDJSON line with orjson, gzip (isal level 2, as
             connector/ingest/batch.py) into files of the same batch size; no validation, no state
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from isal import isal_zlib


def _peak_rss_mb() -> float:
    """This process's peak RSS. Not `ru_maxrss`: Linux carries it across exec from the
    parent's memory (subprocess forks with vfork), so a child of a 1 GB parent would start
    at 1 GB. VmHWM belongs to the address space exec created."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _usage() -> tuple[float, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, _peak_rss_mb()


def run_connector(spec: dict[str, Any]) -> dict[str, Any]:
    from connector.config.load import parse
    from connector.service.app import App

    if spec["settings"]["output"]["type"] == "s3":
        import boto3  # noqa: F401 - imported before the baseline, as App would

    from connector.service.app import tune_interpreter

    settings = parse(spec["settings"])
    tune_interpreter()
    profile = spec.get("profile")
    index_cpu = _timed_index() if spec.get("index_cpu") else None
    ocsf_cpu = _timed_ocsf() if spec.get("ocsf_cpu") else None
    cpu0, base_rss = _usage()
    t0 = time.perf_counter()
    app = App(settings)
    try:
        if profile == "cprofile":
            import cProfile

            prof = cProfile.Profile()
            outcomes = prof.runcall(app.once)
            prof.dump_stats(spec["profile_out"])
        elif profile == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.001)
            with profiler:
                outcomes = app.once()
            Path(spec["profile_out"]).write_text(profiler.output_text(show_all=False))
        else:
            outcomes = app.once()
    finally:
        app.close()
    wall = time.perf_counter() - t0
    cpu1, peak_rss = _usage()
    out: dict[str, Any] = {
        "wall_s": wall,
        "cpu_s": cpu1 - cpu0,
        "peak_rss_mb": peak_rss,
        "base_rss_mb": base_rss,
        "events": 0,
        "outcomes": [],
    }
    if index_cpu is not None:
        out |= {"index_cpu_s": index_cpu[0], "index_import_cpu_s": index_cpu[1]}
    if ocsf_cpu is not None:
        out |= {"ocsf_cpu_s": ocsf_cpu[0], "ocsf_put_cpu_s": ocsf_cpu[1]}
    for o in outcomes:
        r = o.result
        row = {"log_type": o.log_type, "state": o.state, "detail": o.detail}
        if r is not None:
            row |= {
                "fetched": r.fetched,
                "written": r.written,
                "quarantined": r.quarantined,
                "duplicates": r.duplicates,
                "objects": r.objects,
                "pages": r.pages,
            }
            out["events"] += r.written
        out["outcomes"].append(row)
    return out


def _timed(spent: list[float], at: int, step: Any) -> Any:
    """`step` (a function returning an iterator), its thread CPU added to `spent[at]`."""

    def timed(*args: Any) -> Any:
        made = iter(step(*args))
        while True:
            t = time.thread_time()
            try:
                item = next(made)
            except StopIteration:
                return
            finally:
                spent[at] += time.thread_time() - t
            yield item

    return timed


def _timed_ocsf() -> list[float]:
    """[CPU s making the OCSF objects (mapping, Parquet; pyarrow's first import when
    nothing imported it before), CPU s writing them to their sink], timed inside the run
    as `_timed_index` times the index."""
    from connector.ocsf import output

    spent = [0.0, 0.0]
    output.OcsfOutput.derive = _timed(spent, 0, output.OcsfOutput.derive)  # type: ignore[method-assign]
    init = output.OcsfOutput.__init__

    def timed_init(self: output.OcsfOutput, *args: Any, **kw: Any) -> None:
        init(self, *args, **kw)
        put = self.sink.put

        def timed_put(*a: Any, **k: Any) -> Any:
            t = time.thread_time()
            try:
                return put(*a, **k)
            finally:
                spent[1] += time.thread_time() - t

        self.sink.put = timed_put  # type: ignore[method-assign]

    output.OcsfOutput.__init__ = timed_init  # type: ignore[method-assign]
    return spent


def _timed_index() -> list[float]:
    """[CPU s spent building the search index's objects, CPU s importing it]: the build
    timed inside the run, in the thread that runs it, so the load beside it does not
    blur it as the difference of two runs does. The import (pyarrow, numpy) happens
    here, before the run's own CPU is counted, and is given apart."""
    t = time.process_time()
    from connector.search import index

    spent = [0.0, time.process_time() - t]
    index.SearchIndex.derive = _timed(spent, 0, index.SearchIndex.derive)  # type: ignore[method-assign]
    return spent


class _Writer:
    """Gzip NDJSON files of about `batch` lines, flushed where the connector flushes.

    Lines go straight into one bytearray: orjson 3.13 hands back each ~1 KB line in an
    ~8 KB allocation, so a list of 20k `orjson.dumps` results costs ~160 MB of RSS where
    the bytes themselves are ~20 MB (see docs/benchmarks.md)."""

    def __init__(self, root: Path, batch: int) -> None:
        self.root, self.batch = root, batch
        self.buf = bytearray()
        self.count = self.files = self.events = self.bytes = 0
        root.mkdir(parents=True, exist_ok=True)

    def add(self, entries: list[Any]) -> None:
        dumps, buf = orjson.dumps, self.buf
        for entry in entries:
            buf += dumps(entry)
            buf += b"\n"
        self.count += len(entries)
        if self.count >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.count:
            return
        squeeze = isal_zlib.compressobj(2, isal_zlib.DEFLATED, 31)
        body = squeeze.compress(self.buf) + squeeze.flush()
        (self.root / f"{self.files:06d}.json.gz").write_bytes(body)
        self.files += 1
        self.events += self.count
        self.bytes += len(body)
        self.buf = bytearray()
        self.count = 0


def run_floor(spec: dict[str, Any]) -> dict[str, Any]:
    writer = _Writer(Path(spec["out"]), spec["batch_max_events"])
    headers = {"Authorization": f"Bearer {spec['token']}", "Accept": "application/json"}
    cpu0, base_rss = _usage()
    t0 = time.perf_counter()
    requests = 0
    with httpx.Client(timeout=60.0, headers={"User-Agent": "bench-floor"}) as http:
        if spec["kind"] == "audit":
            latest = int(time.time())  # the same window the connector's first run uses
            params: dict[str, Any] = {
                "oldest": latest - spec["lookback"],
                "latest": latest,
                "limit": spec["limit"],
            }
            cursor = ""
            while True:
                resp = http.get(
                    spec["url"],
                    params={**params, "cursor": cursor} if cursor else params,
                    headers=headers,
                )
                requests += 1
                resp.raise_for_status()
                body = orjson.loads(resp.content)
                writer.add(body["entries"])
                cursor = (body.get("response_metadata") or {}).get("next_cursor") or ""
                if not cursor:
                    break
        else:  # classic paging: team.accessLogs / team.integrationLogs
            page, pages = 1, 1
            base = dict(spec["params"])
            if spec.get("before_now"):  # team.accessLogs: a fixed `before`, as the connector
                base["before"] = int(time.time())
            sort = spec.get("sort", "date_last")
            edge: set[bytes] = set()  # rows of the boundary second already written
            while page <= pages:
                params = {**base, "page": page}
                resp = http.get(spec["url"], params=params, headers=headers)
                requests += 1
                resp.raise_for_status()
                body = orjson.loads(resp.content)
                rows = body[spec["key"]]
                if edge:
                    rows = [r for r in rows if orjson.dumps(r) not in edge]
                writer.add(rows)
                pages = int(body["paging"]["pages"])
                page += 1
                if page > 100 and pages >= page and rows:  # Slack's page cap: step by keyset
                    base["before"] = rows[-1][sort]
                    edge = {orjson.dumps(r) for r in rows if r[sort] == base["before"]}
                    page, pages = 1, 1
    writer.flush()
    wall = time.perf_counter() - t0
    cpu1, peak_rss = _usage()
    return {
        "wall_s": wall,
        "cpu_s": cpu1 - cpu0,
        "peak_rss_mb": peak_rss,
        "base_rss_mb": base_rss,
        "events": writer.events,
        "files": writer.files,
        "out_bytes": writer.bytes,
        "client_requests": requests,
    }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    for name, value in spec.get("env", {}).items():
        os.environ[name] = value
    job = {"connector": run_connector, "floor": run_floor}[spec["job"]]
    Path(sys.argv[2]).write_text(json.dumps(job(spec)))


if __name__ == "__main__":
    main()
