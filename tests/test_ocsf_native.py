"""The native OCSF mapper against the Python one (the oracle) on every dataset the tests
know: the conformance corpus, the demo simulator, every family's actions with every
entity shape, access and integration rows, the benchmark's mix; and the OCSF output
with the native mapper on writes the same objects, byte for byte, as with it off, also
when the extension is not there. The checks themselves are `tests/ocsf_native_check.py`;
the odd shapes are `test_ocsf_native_shapes.py`.
"""

from __future__ import annotations

import gzip
import importlib
import logging
import random
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench import dataset
from bench import landed as bench_landed
from connector.config.ocsf import OcsfConfig
from connector.demo.org import Org
from connector.ocsf import output as output_module
from connector.ocsf.families import FAMILIES, family
from connector.ocsf.logs import CHANGES
from connector.ocsf.output import OcsfOutput
from connector.sinks.local import LocalSink
from tests.factories import access, audit, integration
from tests.fakes.slack_server import drift_records
from tests.ocsf_native_check import (
    ACTIONS,
    DETAILS,
    ENTITIES,
    compare,
    ndjson,
    oracle,
    problems,
    share,
)
from tests.test_ocsf_mapping import ACCESS, AUDIT, AUDIT_ROWS, INTEGRATION, corpus, landed

native = pytest.importorskip("connector.ocsf.native")
pytestmark = pytest.mark.skipif(not native.available(), reason="the native mapper is not built")

T = 1_700_000_000
KEY = "slack/Slack.AuditLogs/year=2023/acme_20231114T221320Z_0123456789abcdef01234567.json.gz"
SHARES: dict[str, float] = {}
"""What each dataset's share measured (printed by `-s`, quoted in the notes)."""


def checked(name: str, rows: list[Any]) -> float:
    nd = ndjson(rows)
    SHARES[name] = got = share(compare(nd), nd)
    print(f"native share, {name}: {got:.1%} of {len(rows)}")
    return got


# ------------------------------------------------------------------------------ datasets
def test_the_conformance_corpus() -> None:
    rows = list(AUDIT_ROWS)
    rows += [landed(r, ACCESS, i) for i, r in enumerate(corpus("access_logs.ndjson"))]
    rows += [landed(r, INTEGRATION, i) for i, r in enumerate(corpus("integration_logs.ndjson"))]
    drift = drift_records(T)
    rows += [landed(r, AUDIT) for r in drift["audit"]] + [
        landed(r, ACCESS) for r in drift["access"]
    ]
    whole = checked("conformance corpus", rows)
    audit_only = checked("conformance audit entries", AUDIT_ROWS)
    assert whole == audit_only == 1.0, (whole, audit_only)  # every line, anomalies too


def test_the_demo_simulator() -> None:
    rng = random.Random(29)
    org = Org(rng)
    rows = [landed(org.audit_event(rng, T + i), AUDIT, i) for i in range(400)]
    rows += [landed(org.integration_log(rng, T + i), INTEGRATION, i) for i in range(100)]
    assert checked("demo simulator", rows) == 1.0


def named_rows() -> list[dict[str, Any]]:
    rows = []
    for i, action in enumerate(ACTIONS):
        for j, entity in enumerate(ENTITIES):
            extra: dict[str, Any] = {} if entity is None else {"entity": entity}
            if DETAILS[j % 3] is not None:
                extra["details"] = DETAILS[j % 3]
            row = audit(i, T + j, action, **extra)
            if j % 4 == 1:
                del row["context"]["ip_address"], row["context"]["session_id"]
            if j % 5 == 2:
                row["actor"]["user"].pop("email")
            rows.append(landed(row, AUDIT, i * 100 + j))
    return rows


def test_every_family_is_covered() -> None:
    assert {family(a).name for a in ACTIONS} == {f.name for f in FAMILIES} | {"anything else"}


def test_every_action_of_every_family_with_every_entity_shape() -> None:
    rows = named_rows()
    assert checked("factories' named actions x entity shapes", rows) == 1.0


def test_access_and_integration_rows_of_the_factories() -> None:
    rows = []
    for i, count in enumerate([1, 0, 2**31 - 1, 2**31, -1, True, None, 2**63 - 1]):
        row = access(f"U{i}", "203.0.113.9" if i % 2 else "2001:db8::1", "Mozilla/5.0", T, T + 9)
        row["count"] = count
        rows.append(landed(row, ACCESS, i))
    bare = access("U0", "not-an-ip", "", T)
    del bare["country"], bare["region"]
    rows.append(landed(bare, ACCESS, 90))
    for i, change in enumerate([*CHANGES, "brand_new", ""]):
        rows.append(landed(integration(i, T + i, change), INTEGRATION, i))
    checked("factories' access and integration rows", rows)


def bench_rows(n: int = 3_000) -> list[dict[str, Any]]:
    data = dataset.audit(n, 1_765_000_000)
    raws = orjson.loads(b"[" + data.blob.rstrip(b",") + b"]")
    return [landed(r, AUDIT, i) for i, r in enumerate(raws)]


def test_the_benchmark_mix_is_mapped_natively() -> None:
    assert checked("benchmark generator's mix", bench_rows()) == 1.0


# ------------------------------------------------------------------------ whole objects
def cfg() -> OcsfConfig:
    return OcsfConfig(enabled=True, output="local", account_id="123456789012")


def derived(nd: bytes, tmp_path: Path, key: str = KEY, **kw: Any) -> list[Any]:
    out = OcsfOutput(cfg(), LocalSink(str(tmp_path)), **kw)
    return [(d.key, d.body, dict(d.counts)) for d in out.derive(key, nd)]


def landed_objects(tmp_path: Path) -> list[tuple[str, bytes]]:
    bench_landed.land(tmp_path / "raw", 3_000, 1_765_000_000, days=3, others=True)
    return [
        (str(p.relative_to(tmp_path / "raw")), gzip.decompress(p.read_bytes()))
        for p in sorted((tmp_path / "raw").rglob("*.json.gz"))
    ]


def test_the_output_writes_the_same_objects_with_either_mapper(tmp_path: Path) -> None:
    """The connector's own landed objects (audit, access and integration rows over three
    days, the `p_*` fields as the daemon writes them): the same keys, bytes and counts."""
    objects = landed_objects(tmp_path)
    assert len(objects) >= 3
    total = fallback = 0
    for key, nd in objects:
        mapped = compare(nd)
        total, fallback = total + nd.count(b"\n"), fallback + len(mapped.fallback)
        python = derived(nd, tmp_path, key, native=False)
        assert derived(nd, tmp_path, key, native=True) == python, key
        assert derived(nd, tmp_path, key) == python, key
    SHARES["bench.landed objects"] = 1 - fallback / total
    assert 1 - fallback / total >= 0.99, SHARES


def test_mixed_classes_days_and_ties_give_the_same_objects(tmp_path: Path) -> None:
    """Several classes and days in one object, events at the same millisecond (the line
    order decides), ids that repeat at the same time, lines the native mapper hands back
    between lines it maps, and a last line without its newline."""
    rows = []
    for i in range(240):
        action = ["user_login", "user_created", "channel_created", "huddle_started"][i % 4]
        ts = T + (i % 3) * 86_400 + (i // 7) % 2
        row = audit(i % 9, ts, action, entity={"type": "channel", "channel": {"id": f"C{i}"}})
        if i % 11 == 0:
            row["date_create"] = ts + 0.5
        if i % 13 == 0:
            row["actor"]["user"]["name"] = 'quoted "name"\n'
        rows.append(landed(row, AUDIT, i))
    rows += [landed(access(f"U{i}", "203.0.113.9", "ua", T, T + 5), ACCESS, i) for i in range(9)]
    nd = ndjson(rows)
    mapped = compare(nd)
    assert mapped.fallback and len(mapped.parts) >= 3
    assert not any(p.table.num_rows for p in compare(b"").parts.values())
    assert derived(b"", tmp_path, native=True) == derived(b"", tmp_path, native=False) == []
    for body in (nd, nd.rstrip(b"\n")):
        assert derived(body, tmp_path, native=True) == derived(body, tmp_path, native=False)


# -------------------------------------------------------------- without the extension
def test_the_python_path_never_touches_the_extension(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nd = ndjson(named_rows()[:200])
    want = derived(nd, tmp_path, native=True)

    def gone(_: bytes) -> Any:
        raise AssertionError("native.map_object called on the Python path")

    monkeypatch.setattr(native, "map_object", gone)
    assert derived(nd, tmp_path, native=False) == want
    monkeypatch.setattr(native, "available", lambda: False)
    assert derived(nd, tmp_path) == want


def test_without_the_extension_the_output_is_the_python_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The extension missing at import (a build without gcc): `available()` says so, and
    `[ocsf] mapper = "native"` writes what the Python mapper does, with one warning."""
    nd = ndjson(bench_rows(400))
    want = derived(nd, tmp_path, native=False)
    ext = "connector.ocsf._ocsfmap"
    monkeypatch.setitem(sys.modules, ext, None)  # import fails as if never built
    monkeypatch.delattr(sys.modules["connector.ocsf"], "_ocsfmap", raising=False)
    try:
        importlib.reload(native)
        assert not native.available()
        assert derived(nd, tmp_path) == want
        local = cfg().model_copy(update={"path": str(tmp_path), "mapper": "native"})
        with caplog.at_level(logging.WARNING):
            (out,) = output_module.outputs(local)
            got = [[(d.key, d.body, dict(d.counts)) for d in out.derive(KEY, nd)] for _ in "ab"]
        assert got == [want, want]
        warned = [
            r
            for r in caplog.records
            if r.levelno >= logging.WARNING and r.name.startswith("connector.ocsf")
        ]
        assert len(warned) == 1, [r.getMessage() for r in warned]
    finally:
        monkeypatch.delitem(sys.modules, ext)
        importlib.reload(native)
    assert native.available()


def test_the_mapper_setting_reaches_the_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[ocsf] mapper`: "native" maps through the extension, "python" never calls it; both
    write the same objects."""
    local = cfg().model_copy(update={"path": str(tmp_path)})
    nd = ndjson(bench_rows(300))
    want = [body for _, body, _ in derived(nd, tmp_path, native=False)]
    calls: list[int] = []
    real = native.map_object

    def counted(data: bytes) -> Any:
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(native, "map_object", counted)
    for mapper, used in (("native", True), ("python", False)):
        calls.clear()
        (out,) = output_module.outputs(local.model_copy(update={"mapper": mapper}))
        assert [d.body for d in out.derive(KEY, nd)] == want, mapper
        assert bool(calls) is used, mapper


# ------------------------------------------------------ bugs the native mapper had, kept
@pytest.mark.parametrize(
    "scopes",
    [
        64,
        65,
        300,
    ],
)
def test_an_app_with_more_scopes_than_the_native_event_holds(scopes: int, tmp_path: Path) -> None:
    """Privileges past the extension's MAX_LIST (64) must go to Python: Slack apps ask
    for more (the extension returned NULL without an exception, a SystemError)."""
    names = [f"scope:{i}" for i in range(scopes)]
    app = {"type": "app", "app": {"id": "A1", "name": "Jira", "scopes": names}}
    rows = [
        landed(audit(1, T, "app_installed", entity=app), AUDIT, 1),
        landed(audit(2, T, "app_scopes_expanded", details={"new_scopes": ",".join(names)}), AUDIT),
    ]
    nd = ndjson(rows)
    compare(nd)
    assert derived(nd, tmp_path, native=True) == derived(nd, tmp_path, native=False)


@pytest.mark.parametrize(
    ("callback", "changes"),
    [
        ("_shared", {"action": "brand_new_action_29"}),
        ("_ip", {"context": {"ip_address": "2001:db8::29"}}),
    ],
)
def test_two_threads_mapping_at_once_get_the_oracles_events(
    callback: str, changes: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon's polls run in a thread pool and may map two objects at once. While one
    thread's map asks Python about a value the extension has not seen (an action's
    family, an IP address), another thread's map of the same value must not take the
    unanswered entry as the answer (it did: a SystemError, or an IPv6 address left in
    `unmapped`)."""
    import threading

    inside, release = threading.Event(), threading.Event()
    asked = getattr(native, callback)

    def slow(*args: Any) -> Any:
        if not inside.is_set():
            inside.set()
            release.wait(10)
        return asked(*args)

    monkeypatch.setattr(native, callback, slow)
    mapper = native._mapper.__wrapped__()  # a fresh cache, asking `slow`
    monkeypatch.setattr(native, "_mapper", lambda: mapper)
    nd = ndjson([landed({**audit(1, T), **changes}, AUDIT)])
    got: dict[str, Any] = {}

    def run(name: str) -> None:
        try:
            got[name] = native.map_object(nd)
        except BaseException as exc:
            got[name] = exc

    first = threading.Thread(target=run, args=("first",))
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    second.join(2)  # done, or waiting for the first (a lock): either is right
    release.set()
    first.join(10)
    second.join(10)
    for name, mapped in got.items():
        assert not isinstance(mapped, BaseException), (name, mapped)
        assert problems(nd, mapped) == [], name


@pytest.mark.parametrize("member", [{"x": 1}, {"id": "X"}, {"p_x": 1}, {"date_create": 5}], ids=str)
def test_an_object_under_an_empty_member_name_at_the_top(member: dict[str, Any]) -> None:
    """`{"": {"x": 1}}` flattens to `.x`, as under any other name (the extension made it
    `x`, a top-level field: `{"": {"id": "X"}}` became the event's uid, `p_*` were left
    out)."""
    row = landed(audit(1, T), AUDIT, 1)
    if "id" in member:
        del row["id"]
    compare(ndjson([{**row, "": member}]))


def test_a_membership_change_naming_no_user() -> None:
    """OCSF's Group Management needs a user (or privileges): with none, the oracle makes a
    Base Event (`audit.group_management`); the extension made Group Management."""
    channel = {"type": "channel", "channel": {"id": "C1", "name": "general"}}
    row = landed(audit(1, T, "user_channel_join", entity=channel), AUDIT, 1)
    compare(ndjson([{**row, "actor": {"type": "app"}}]))


def test_the_tables_outlive_the_mapping() -> None:
    """The extension hands Arrow its own column buffers (not copies): a slice of a table
    kept after everything else of its mapping is gone, and other mappings made and
    freed since, still holds the oracle's events."""
    import gc

    nd = ndjson(bench_rows(2_000))
    kept = {c: (p.table.slice(5, 500), p.lines.slice(5, 500)) for c, p in compare(nd).parts.items()}
    gc.collect()
    for _ in range(5):
        native.map_object(ndjson(bench_rows(500)))
    churn = [bytearray(b"\xab" * 1_000_000) for _ in range(20)]
    lines = nd.splitlines(keepends=True)
    for cls, (table, numbers) in kept.items():
        for n, got in zip(numbers.to_pylist(), table.to_pylist(), strict=True):
            assert oracle(lines[n - 1]) == (cls, got), n
    assert sum(t.num_rows for t, _ in kept.values()) > 1_000 and len(churn) == 20
