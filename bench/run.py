"""Throughput, CPU and memory of the connector against a fake Slack, beside a minimal floor.

    python -m bench.run [--events 1000000] [--sizes 100000,1000000] [--s3/--no-s3]
    python -m bench.run --profile 200000 [--profiler cprofile|pyinstrument|py-spy]

The parent process generates the datasets, serves them from the fake Slack server
(`bench.server.BenchSlack`) and, for the S3 run, hosts moto's server. Every measured run
is its own child interpreter (`bench.child`), so CPU seconds and peak RSS are that run's
alone; the parent's CPU while a child runs is reported as "server CPU" (fake + moto).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import dataset
from bench.server import BenchSlack
from connector.paging import limits
from tests.fakes.moto_server import AWS_ENV

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "xoxp-bench-token"
TOKEN_ENV = "SLACK_BENCH_TOKEN"
LOOKBACK = 86_400
BATCH_MAX_EVENTS = 10_000  # connector default (output.batch_max_events); the floor matches
AUDIT_LIMIT = int(os.environ.get("BENCH_AUDIT_LIMIT", "9999"))
SLACK_AUDIT_PER_MINUTE = 50
WEB_COUNT = 1000
METHODS = {"audit": "logs", "access": "team.accessLogs", "integration": "team.integrationLogs"}


@dataclass
class Row:
    run: str
    log_type: str
    size: int  # records in the fake's dataset
    events: int  # records written
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    base_rss_mb: float
    requests: int
    out_bytes: int
    n429: int
    server_cpu_s: float
    floor: str = ""  # the floor row this one is compared with
    note: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.wall_s if self.wall_s else 0.0


def _cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.fake = BenchSlack(tokens=(TOKEN,)).start()
        self.moto: Any = None
        self.endpoint = ""
        self.rows: list[Row] = []
        self.access_days = 0.0
        self.lake_bytes = 0
        self.lake_digest = ""
        """sha256 over the OCSF objects' bodies, sorted: two mappers' lakes compare by it."""
        self.index_cpu = (0.0, 0.0)
        self.ocsf_cpu = (0.0, 0.0)
        """The last connector run's CPU s building the search index, and importing it."""
        self.env = {**os.environ, TOKEN_ENV: TOKEN, "PYTHONPATH": str(ROOT)}

    def close(self) -> None:
        self.fake.stop()
        if self.moto is not None:
            self.moto.stop()

    # ------------------------------------------------------------------ children
    def child(self, name: str, spec: dict[str, Any]) -> tuple[dict[str, Any], float, list[Any]]:
        """Run one child; returns its result, the parent's CPU meanwhile, its requests."""
        spec_path, result_path = self.work / f"{name}.spec.json", self.work / f"{name}.result.json"
        spec_path.write_text(json.dumps(spec))
        cmd = [sys.executable, "-m", "bench.child", str(spec_path), str(result_path)]
        if spec.get("profile") == "py-spy":
            spy = Path(sys.executable).with_name("py-spy")
            cmd = [
                str(spy),
                "record",
                "--rate",
                "250",
                "--format",
                "raw",
                "--function",
                "--nonblocking",
                "-o",
                spec["profile_out"],
                "--",
                *cmd,
            ]
        first = len(self.fake.requests)
        cpu0 = _cpu_self()
        proc = subprocess.run(
            cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=3600, check=False
        )
        server_cpu = _cpu_self() - cpu0
        requests = self.fake.requests[first:]
        if proc.returncode != 0 or not result_path.exists():
            raise RuntimeError(f"{name} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        if proc.stderr.strip() and spec.get("profile") != "py-spy":
            print(f"  [{name} stderr] {proc.stderr.strip()[-1500:]}", file=sys.stderr)
        return json.loads(result_path.read_text()), server_cpu, requests

    def _settings(
        self, tmp: Path, log_type: str, output: dict[str, Any], budget: bool = False
    ) -> dict[str, Any]:
        """`budget`: the connector's default rate budget instead of an unlimited one."""
        unlimited = {} if budget else {"audit_calls_per_minute": 1e9, "web_calls_per_minute": 1e9}
        lookback = max(LOOKBACK, int(self.access_days * 86_400) + 86_400)
        return {
            "state": {"path": str(tmp / "state.db")},
            "output": {"batch_max_events": BATCH_MAX_EVENTS, **output},
            "sources": [
                {
                    "id": "bench",
                    "label": "bench org",
                    "token_env": TOKEN_ENV,
                    "audit_api_url": self.fake.audit_api_url,
                    "web_api_url": self.fake.web_api_url,
                    "log_types": [log_type],
                    **unlimited,
                    "page_size": AUDIT_LIMIT,
                    "first_run_lookback_seconds": lookback,
                    "http_timeout_seconds": 120,
                }
            ],
        }

    def connector(
        self,
        log_type: str,
        size: int,
        *,
        s3: bool = False,
        profile: str | None = None,
        ceiling: bool = False,
        order: str = "",
        ocsf: bool = False,
        search_index: bool = True,
        ocsf_mapper: str | None = None,
    ) -> Row | Path:
        """`ocsf`: with the OCSF output on, to a local lake beside the raw objects, mapped by
        `ocsf_mapper` (`[ocsf] mapper`, its default when None); `search_index`: with the
        search index beside them (the default, as the daemon's)."""
        kind = "ceiling" if ceiling else "s3" if s3 else "ocsf" if ocsf else "local"
        kind += f"-{ocsf_mapper}" if ocsf and ocsf_mapper else ""
        name = f"connector-{kind}-{log_type}-{size}" + (f"-{order}" if order else "")
        tmp = self.work / name
        tmp.mkdir()
        if s3:
            bucket = self._bucket(f"bench-{size}")
            output = {
                "type": "s3",
                "bucket": bucket,
                "region": "us-east-1",
                "endpoint_url": self.endpoint,
            }
        else:
            output = {"type": "local", "path": str(tmp / "out")}
        settings = self._settings(tmp, log_type, output, budget=ceiling)
        settings["output"]["search_index"] = search_index
        if ocsf:
            settings["ocsf"] = {
                "enabled": True,
                "output": "local",
                "path": str(tmp / "lake"),
                "account_id": "123456789012",
            }
            if ocsf_mapper is not None:
                settings["ocsf"]["mapper"] = ocsf_mapper
        spec: dict[str, Any] = {"job": "connector", "settings": settings}
        spec["index_cpu"] = search_index and not profile
        spec["ocsf_cpu"] = ocsf and not profile
        self.fake.enforce_per_minute = SLACK_AUDIT_PER_MINUTE if ceiling else None
        if profile:
            spec |= {"profile": profile, "profile_out": str(self.work / f"{name}.{profile}")}
        try:
            result, server_cpu, requests = self.child(name, spec)
        finally:
            self.fake.enforce_per_minute = None
        bad = [o for o in result["outcomes"] if o["state"] != "ok"]
        if bad:
            raise RuntimeError(f"{name}: poll failed: {bad}")
        if profile:
            return Path(spec["profile_out"])
        out_bytes = self._s3_bytes(bucket) if s3 else _dir_bytes(tmp / "out")
        o = result["outcomes"][0]
        note = (
            f"{o['pages']} pages, {o['objects']} objects, "
            f"{o['quarantined']} quarantined, {o['duplicates']} duplicates"
        )
        self.index_cpu = (result.get("index_cpu_s", 0.0), result.get("index_import_cpu_s", 0.0))
        self.ocsf_cpu = (result.get("ocsf_cpu_s", 0.0), result.get("ocsf_put_cpu_s", 0.0))
        if ocsf:
            self.lake_bytes = _dir_bytes(tmp / "lake", "*.parquet")
            self.lake_digest = _bodies_digest(tmp / "lake", "*.parquet")
            note += f", OCSF Parquet {self.lake_bytes / max(size, 1):.0f} B/ev"
        if s3:
            self._empty(bucket)
        shutil.rmtree(tmp, ignore_errors=True)
        return self._row(name, log_type, size, result, server_cpu, requests, out_bytes, note)

    def floor(self, log_type: str, size: int) -> Row:
        name = f"floor-{log_type}-{size}"
        spec: dict[str, Any] = {
            "job": "floor",
            "kind": log_type,
            "token": TOKEN,
            "out": str(self.work / name),
            "batch_max_events": BATCH_MAX_EVENTS,
        }
        if log_type == "audit":
            spec |= {
                "url": self.fake.audit_api_url + "logs",
                "lookback": LOOKBACK,
                "limit": AUDIT_LIMIT,
            }
        else:
            method = METHODS[log_type]
            spec |= {
                "url": self.fake.web_api_url + method,
                "params": {"count": WEB_COUNT},
                "key": "logins" if log_type == "access" else "logs",
                "before_now": log_type == "access",
                "sort": self.fake.access_sort_key,
            }
        result, server_cpu, requests = self.child(name, spec)
        shutil.rmtree(self.work / name, ignore_errors=True)
        return self._row(
            name,
            log_type,
            size,
            result,
            server_cpu,
            requests,
            result["out_bytes"],
            f"{result['files']} files",
        )

    def _row(
        self,
        name: str,
        log_type: str,
        size: int,
        result: dict[str, Any],
        server_cpu: float,
        requests: list[Any],
        out_bytes: int,
        note: str,
    ) -> Row:
        method = METHODS[log_type]
        row = Row(
            run=name,
            log_type=log_type,
            size=size,
            events=result["events"],
            wall_s=result["wall_s"],
            cpu_s=result["cpu_s"],
            peak_rss_mb=result["peak_rss_mb"],
            base_rss_mb=result["base_rss_mb"],
            requests=sum(1 for r in requests if r.method == method),
            out_bytes=out_bytes,
            n429=sum(1 for r in requests if r.status == 429),
            server_cpu_s=server_cpu,
            note=note,
        )
        if row.events != size:
            row.note += f"; WARNING: wrote {row.events} of {size}"
        print(
            f"  {name}: {row.events:,} events in {row.wall_s:.1f}s "
            f"({row.rate:,.0f}/s, cpu {row.cpu_s:.1f}s, peak RSS {row.peak_rss_mb:.0f} MB)",
            flush=True,
        )
        self.rows.append(row)
        return row

    # ------------------------------------------------------------------ S3 (moto server)
    def _s3(self) -> Any:
        import boto3

        if self.moto is None:
            import logging

            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

            os.environ.update(AWS_ENV)
            self.env.update(AWS_ENV)
            for env in (os.environ, self.env):
                env.pop("AWS_PROFILE", None)
            self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self.moto.start()
            host, port = self.moto.get_host_and_port()
            self.endpoint = f"http://{host}:{port}"
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def _bucket(self, name: str) -> str:
        self._s3().create_bucket(Bucket=name)
        return name

    def _s3_bytes(self, bucket: str) -> int:
        pages = self._s3().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sum(item["Size"] for page in pages for item in page.get("Contents", []))

    def _empty(self, bucket: str) -> None:
        s3 = self._s3()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})

    # ------------------------------------------------------------------ datasets
    def load_audit(self, size: int) -> None:
        self.fake.load_audit(None)
        gc.collect()
        if not size:
            return
        t0 = time.perf_counter()
        self.fake.load_audit(dataset.audit(size, int(time.time())))
        data = self.fake.data
        assert data is not None
        print(
            f"audit dataset: {size:,} events, {len(data.blob) / size:,.0f} B/event JSON, "
            f"generated in {time.perf_counter() - t0:.1f}s",
            flush=True,
        )

    def load_web(self, access: int, integration: int, access_days: float = 0) -> None:
        now = int(time.time())
        span = int(access_days * 86_400) if access_days else dataset.SPAN_SECONDS
        self.fake.add_access(dataset.access(access, now, span))
        self.fake.add_integration(dataset.integration(integration, now))

    def access(self, size: int, orders: list[str], transports: list[str]) -> None:
        """One first run per sort x filter x transport the strategy serves; sorted by
        date_first and filtered by date_last, classic paging cannot reach past page 100
        and must say so (checked, not timed) when the listing is longer than that."""
        with self.fake._lock:
            self.fake._access.clear()
            self.fake._access_version += 1
        gc.collect()
        self.load_web(size, 0, self.access_days)
        self.fake.access_sort_key = self.fake.access_before_field = "date_last"
        floor = self.floor("access", size)
        for transport in transports:
            self.fake.access_cursor = "offset" if transport == "cursor" else "error"
            for pair in orders:
                sort, _, before = pair.partition("/")
                self.fake.access_sort_key, self.fake.access_before_field = sort, before or sort
                name = f"{sort}-{before or sort}-{transport}"
                unsafe = (sort, before) == ("date_first", "date_last")
                if transport == "classic" and unsafe and size > limits.MAX_PAGE * limits.MAX_COUNT:
                    print(f"  {name}: {self.unreachable(size, name)}", flush=True)
                    continue
                row = self.connector("access", size, order=name)
                assert isinstance(row, Row)
                row.floor = floor.run
        self.fake.access_cursor = "offset"
        self.fake.access_sort_key = self.fake.access_before_field = "date_last"

    def unreachable(self, size: int, name: str) -> str:
        try:
            self.connector("access", size, order=name)
        except RuntimeError as exc:
            if "cannot be reached without cursor paging" in str(exc):
                return "reports itself as unreachable past page 100, as it must"
            raise
        raise RuntimeError(f"{name}: classic paging claimed to reach every row")


def print_pairs(rows: list[tuple[str, str]]) -> None:
    """A benchmark's result as aligned `name  value` lines, then the machine."""
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(machine())


def machine() -> str:
    import platform

    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = "?"
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()} on "
        f"{platform.system()} {platform.machine()}, tree {commit}, load average {load}"
    )


def _dir_bytes(root: Path, pattern: str = "*.json.gz") -> int:
    return sum(p.stat().st_size for p in root.rglob(pattern)) if root.exists() else 0


def _bodies_digest(root: Path, pattern: str) -> str:
    bodies = sorted(hashlib.sha256(p.read_bytes()).digest() for p in root.rglob(pattern))
    return hashlib.sha256(b"".join(bodies)).hexdigest()


# ---------------------------------------------------------------------- reporting
COLUMNS = [
    ("run", "<"),
    ("events", ">"),
    ("wall s", ">"),
    ("events/s", ">"),
    ("CPU s/1M ev", ">"),
    ("peak RSS MB", ">"),
    ("base RSS MB", ">"),
    ("req/1k ev", ">"),
    ("out B/ev", ">"),
    ("429s", ">"),
    ("server CPU s", ">"),
    ("vs floor", ">"),
    ("CPU vs floor", ">"),
]


def table(rows: list[Row]) -> str:
    by_name = {r.run: r for r in rows}
    cells = []
    for r in rows:
        floor = by_name.get(r.floor)
        ratio = f"{r.rate / floor.rate:.2f}x" if floor and floor.rate else "-"
        ev = max(r.events, 1)
        cpu_ratio = "-"
        if floor and floor.events and r.cpu_s:
            cpu_ratio = f"{(floor.cpu_s / floor.events) / (r.cpu_s / ev):.2f}x"
        cells.append(
            [
                r.run,
                f"{r.events:,}",
                f"{r.wall_s:.1f}",
                f"{r.rate:,.0f}",
                f"{r.cpu_s / ev * 1e6:.1f}",
                f"{r.peak_rss_mb:.0f}",
                f"{r.base_rss_mb:.0f}",
                f"{r.requests / ev * 1000:.2f}",
                f"{r.out_bytes / ev:.0f}",
                str(r.n429),
                f"{r.server_cpu_s:.1f}",
                ratio,
                cpu_ratio,
            ]
        )
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (h, _) in enumerate(COLUMNS)]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.ljust(w) if a == "<" else v.rjust(w)
            for v, w, (_, a) in zip(values, widths, COLUMNS, strict=True)
        ).rstrip()

    out = [line([h for h, _ in COLUMNS]), line(["-" * w for w in widths])]
    out += [line(c) for c in cells]
    return "\n".join(out)


def summary(rows: list[Row]) -> str:
    by_name = {r.run: r for r in rows}
    lines = []
    audit = [r for r in rows if r.run.startswith("connector-local-audit-")]
    if audit:
        top = max(audit, key=lambda r: r.size)
        floor = by_name.get(top.floor)
        if floor:
            lines.append(
                f"HEADLINE connector/floor throughput at {top.size:,} audit events: "
                f"{top.rate / floor.rate:.2f} (connector {top.rate:,.0f} ev/s, "
                f"floor {floor.rate:,.0f} ev/s); by CPU per event: "
                f"{(floor.cpu_s / floor.events) / (top.cpu_s / top.events):.2f} "
                f"({top.cpu_s / top.events * 1e6:.0f} vs {floor.cpu_s / floor.events * 1e6:.0f} us)"
            )
        if len(audit) > 1:
            lines.append(
                "RSS flatness, connector peak RSS (base after imports): "
                + ", ".join(
                    f"{r.size:,} events -> {r.peak_rss_mb:.0f} MB ({r.base_rss_mb:.0f})"
                    for r in sorted(audit, key=lambda r: r.size)
                )
            )
    for r in rows:
        if r.run.startswith("connector-ceiling-"):
            ceiling = SLACK_AUDIT_PER_MINUTE / 60 * AUDIT_LIMIT
            lines.append(
                f"CEILING with the default rate budget against a fake enforcing "
                f"{SLACK_AUDIT_PER_MINUTE} calls/min: {r.rate:,.0f} events/s = "
                f"{r.rate / ceiling:.1%} of Slack's ceiling ({ceiling:,.0f} events/s at "
                f"{AUDIT_LIMIT:,} per page), {r.n429} x 429"
            )
    for r in rows:
        if r.run.startswith("connector-local-access-"):
            lines.append(
                f"{r.run}: {r.requests} team.accessLogs calls = {r.requests * 3 / 60:.1f} min "
                "at Tier 2 (20 calls/min)"
            )
    for r in rows:
        if r.note:
            lines.append(f"{r.run}: {r.note}")
    return "\n".join(lines)


# ---------------------------------------------------------------------- profiling
def show_profile(path: Path, kind: str, top: int) -> str:
    if kind == "cprofile":
        out = []
        for key in ("tottime", "cumulative"):
            stats = pstats.Stats(str(path))
            total = stats.total_tt  # type: ignore[attr-defined]
            out.append(f"--- cProfile top {top} by {key} (total {total:.2f}s) ---")
            stats.sort_stats(key)
            for func in stats.fcn_list[:top]:  # type: ignore[attr-defined]
                _, nc, tt, ct, _ = stats.stats[func]  # type: ignore[attr-defined]
                where = f"{Path(func[0]).name}:{func[1]}({func[2]})"
                out.append(
                    f"{tt:8.2f}s own {100 * tt / total:5.1f}%  {ct:8.2f}s cum "
                    f"{100 * ct / total:5.1f}%  {nc:>9}  {where}"
                )
        return "\n".join(out)
    if kind == "py-spy":
        return collapsed_top(path, top)
    return path.read_text()


def _frame(text: str) -> str:
    """`func (path/to/file.py:12)` -> `func (file.py:12)`."""
    name, sep, where = text.partition(" (")
    return f"{name} ({Path(where.rstrip(')')).name})" if sep else text


def collapsed_top(path: Path, top: int, focus: str = "App.once") -> str:
    """Own and cumulative sample shares per function from py-spy's raw (collapsed) stacks,
    counting only samples under `focus` (the measured work, not imports or start-up)."""
    own: dict[str, int] = defaultdict(int)
    cum: dict[str, int] = defaultdict(int)
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";")]
        at = next((i for i, f in enumerate(frames) if f.startswith(focus + " ")), None)
        if at is None:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames[at + 1 :]):
            cum[f] += n
    out = [f"--- py-spy: {total} samples under {focus} ---", f"top {top} by own time:"]
    out += [f"{100 * n / total:6.1f}%  {f}" for f, n in _largest(own, top)]
    out.append(f"top {top} by cumulative time (below {focus}):")
    out += [f"{100 * n / total:6.1f}%  {f}" for f, n in _largest(cum, top)]
    return "\n".join(out)


def _largest(counts: dict[str, int], top: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda x: -x[1])[:top]


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument(
        "--events", type=int, default=1_000_000, help="audit events (headline; 0: skip audit)"
    )
    ap.add_argument(
        "--sizes",
        default="",
        help="audit sizes for the RSS-flatness runs, comma-separated (default: 100000,EVENTS)",
    )
    ap.add_argument(
        "--s3",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the connector to S3 (moto server) at the largest size",
    )
    ap.add_argument(
        "--s3-size",
        type=int,
        default=0,
        metavar="EVENTS",
        help="audit size of the S3 run (default: the largest size)",
    )
    ap.add_argument(
        "--ceiling",
        type=int,
        default=1_000_000,
        metavar="EVENTS",
        help="audit events pulled with the default rate budget from a fake that enforces "
        "Slack's 50 calls/min (0: skip; takes EVENTS / 8,332 seconds)",
    )
    ap.add_argument(
        "--access",
        default="150000",
        help="access-log rows, comma-separated sizes (0: skip)",
    )
    ap.add_argument(
        "--access-days", type=float, default=90, help="days the access rows' dates span"
    )
    ap.add_argument(
        "--access-orders",
        default="date_last/date_last,date_first/date_first,date_last/date_first,date_first/date_last",
        help="sort/before-filter fields of the fake's access listing, one connector run each",
    )
    ap.add_argument(
        "--access-transports",
        default="cursor,classic",
        help="cursor (Slack answers cursor mode) and/or classic (cursor mode refused)",
    )
    ap.add_argument("--integration", type=int, default=2_000, help="integration rows (0: skip)")
    ap.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="EVENTS",
        help="instead of the table: profile one connector audit run of EVENTS",
    )
    ap.add_argument(
        "--profiler", choices=["cprofile", "pyinstrument", "py-spy"], default="cprofile"
    )
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="slack-bench-"))
    bench = Bench(work)
    started = time.perf_counter()
    print(f"machine: {machine()}", flush=True)
    try:
        if args.profile:
            bench.load_audit(args.profile)
            path = bench.connector("audit", args.profile, profile=args.profiler)
            assert isinstance(path, Path)
            print(show_profile(path, args.profiler, args.top))
            return 0
        sizes = (
            sorted(
                {int(s) for s in args.sizes.split(",") if s.strip()}
                or {min(100_000, args.events), args.events}
            )
            if args.events
            else []
        )
        s3_size = args.s3_size or (sizes[-1] if sizes else 0)
        if args.s3 and s3_size not in sizes:
            sizes = sorted({*sizes, s3_size})
        for size in sizes:
            bench.load_audit(size)
            floor = bench.floor("audit", size)
            local = bench.connector("audit", size)
            assert isinstance(local, Row)
            local.floor = floor.run
            if args.s3 and size == s3_size:
                s3 = bench.connector("audit", size, s3=True)
                assert isinstance(s3, Row)
                s3.floor = floor.run
        if args.ceiling:
            if not sizes or args.ceiling != sizes[-1]:
                bench.load_audit(args.ceiling)
            bench.connector("audit", args.ceiling, ceiling=True)
        bench.load_audit(0)
        bench.access_days = args.access_days
        access_sizes = [int(n) for n in args.access.split(",") if int(n)]
        if args.integration:
            bench.load_web(0, args.integration, args.access_days)
        for size in access_sizes:
            bench.access(size, args.access_orders.split(","), args.access_transports.split(","))
        if args.integration:
            floor = bench.floor("integration", args.integration)
            row = bench.connector("integration", args.integration)
            assert isinstance(row, Row)
            row.floor = floor.run
        print()
        print(table(bench.rows))
        print()
        print(summary(bench.rows))
        print(f"finished in {time.perf_counter() - started:.0f}s; {machine()}")
        if args.json:
            args.json.write_text(json.dumps([asdict(r) for r in bench.rows], indent=2))
        return 0
    finally:
        bench.close()
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
