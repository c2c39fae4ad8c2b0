"""One definition of a match, whatever asks: the CLI search, `/seclogs search`, the submit
dialog's past hits and the watchlist all agree with `Indicator.matches`.

Hypothesis writes audit events out of values in every spelling the rule treats alike or
apart (`tests/test_search_index.py`'s values, planted in the fields the schema marks as
indicators and anywhere in `details`), lands them with the connector's own validate,
enrich, batch and index code (some objects indexed, some not, every other day compacted,
so the day index, the per-object index and the scan all answer), and asks each entry point about indicators typed as an analyst
types them:

- the CLI (`slack-connector search --path ... --format json --summary`, its `main` called
  in-process): the rows printed, the count and first/last seen, and `--all`'s rows;
- `/seclogs search` over HTTP on 127.0.0.1 to the daemon's own slash command server
  (signed as Slack signs), answered by the daemon's `App.search`: its count and first and
  last seen;
- `/seclogs submit` with every indicator pasted: the confirmation posted to the request's
  response_url, its past hits per indicator;
- the watchlist, holding what was submitted and `watch add`ed, scanning the same written
  pages as the pipeline hands them over: an alert per (indicator, row).

What each must say is computed here from `Indicator.matches` alone, over the rows read
back from the landed objects.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connector import clock
from connector.alerts.base import Alert
from connector.cli.main import main
from connector.config.load import parse as parse_config
from connector.config.settings import Settings
from connector.indicators.match import Indicator, IndicatorError, parse
from connector.ingest.batch import Batch, Sizing
from connector.ingest.enrich import Enricher, Source
from connector.ingest.identity import RowIds
from connector.ingest.partition import GRANULARITIES
from connector.logtypes.audit import AuditLogs
from connector.search import compact
from connector.search.index import SearchIndex
from connector.service.app import App
from connector.sinks.local import LocalSink
from connector.watchlist.watchlist import Watchlist
from tests.conftest import SECRETS_SEEN, TOKEN, source
from tests.factories import audit
from tests.fakes.slack_server import FakeSlack
from tests.fakes.slack_web_api import FakeSlackWeb
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.test_search_index import TYPED, VALUES
from tests.test_slack_modals import BOT_TOKEN, SECRET, Analyst

DAY = 86_400


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLASH_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    SECRETS_SEEN.update({SECRET, BOT_TOKEN})


def daemon_settings(root: Path, slack: FakeSlack, web: FakeSlackWeb) -> Settings:
    """The daemon's settings with the slash command on; its searches run by
    `Searcher.find` on the server's thread (`search_processes = 0`): the worker processes
    run the same call (`tests/test_search_worker.py`), and a pool per example would spawn
    two processes each time."""
    return parse_config(
        {
            "state": {"path": str(root / "state.db")},
            "output": {"type": "local", "path": str(root / "out")},
            "alerts": {"no_events_after_seconds": 0},
            "watchlist": {"lists": [{"name": "phishing"}], "max_alerts_per_hour": 10_000},
            "slash_command": {
                "enabled": True,
                "port": 0,
                "signing_secret": {"env": "SLASH_SIGNING_SECRET"},
                "bot_token": {"env": "SLACK_BOT_TOKEN"},
                "web_api_url": web.url,
                "allowed_team_ids": ["T0ALLOWED"],
                "search_processes": 0,
                "search_limit": 200,
            },
            "sources": [source(slack, log_types=["audit"])],
        }
    )


NESTED = st.recursive(
    st.one_of(VALUES, st.integers(0, 9), st.none()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "previous_ip_address", "url"]), inner, max_size=3),
    ),
    max_leaves=6,
)


def planted(i: int, ago: int = 60, **values: Any) -> dict[str, Any]:
    """Audit event `i`, `ago` seconds old, with values in the fields the schema marks as
    indicators (`ip`, `name`, `email`, `entity` user name) and in `details`."""
    event = audit(i, clock.now_ts() - ago)
    user, context = event["actor"]["user"], event["context"]
    user["name"], user["email"] = (
        values.get("name", user["name"]),
        values.get("email", user["email"]),
    )
    context["ip_address"] = values.get("ip", context["ip_address"])
    event["entity"]["user"]["name"] = values.get("entity", user["name"])
    event["details"] = values.get("details")
    return event


@st.composite
def events(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Audit events over the last four weeks, values planted where the schema marks
    indicators (so `p_any_*` hold them) and where it does not."""
    return [
        planted(
            i,
            draw(st.integers(60, 27 * DAY)),
            ip=draw(VALUES),
            name=draw(VALUES),
            email=draw(VALUES),
            entity=draw(VALUES),
            details=draw(NESTED),
        )
        for i in range(draw(st.integers(1, 8)))
    ]


def land(root: Path, raw_events: list[dict[str, Any]], indexed: list[bool]) -> list[bytes]:
    """The events as the daemon lands them (validate, enrich, batch, index: the same code
    `bench/landed.py` runs); returns every written line, page by page as written."""
    source, logtype = Source("acme", "acme org"), AuditLogs()
    sink = LocalSink(root)
    rows, enricher = RowIds(source, logtype), Enricher(source, logtype, clock.rfc3339(0))
    granularity = {logtype.log_type: GRANULARITIES[logtype.partition]}
    batch = Batch("slack", source.id, Sizing(max_events=1000), granularity)
    for raw in raw_events:
        rid, key = rows.of(raw)
        line, ts = enricher.line(raw, AuditLogs.validate_record(raw), rid)
        batch.add(logtype.log_type, line, key, ts)
    written: list[bytes] = []
    index = SearchIndex(sink, "slack")
    days: dict[str, list[tuple[str, bytes]]] = {}
    for obj, with_index in zip(batch.objects(ndjson=True), itertools.cycle(indexed), strict=False):
        sink.put(obj.key, obj.body)
        assert obj.ndjson is not None
        written += obj.ndjson.splitlines()
        if with_index:
            for derived in index.derive(obj.key, obj.ndjson):
                derived.sink.put(derived.key, derived.body)
        key = obj.key.removeprefix("slack/")
        days.setdefault(compact.day_of(key) or "", []).append((key, obj.ndjson))
    for day in sorted(days)[::2]:  # every other day compacted: both paths answer
        objects = [k for k, _ in days[day]]
        body = compact.build(objects, dict(days[day]).__getitem__)
        sink.put(f"slack/{compact.name(day, objects)}", body)
    return written


def expected(indicator: Indicator, lines: list[bytes]) -> dict[str, str]:
    """p_row_id -> p_event_time of every landed row the one rule says matches (all are in
    the searches' default window, the last 30 days)."""
    out = {}
    for line in lines:
        row = orjson.loads(line)
        if indicator.matches(row, line.decode()):
            out[row["p_row_id"]] = row["p_event_time"]
    return out


def analyst_indicators(typed: list[str]) -> list[Indicator]:
    out: dict[str, Indicator] = {}
    for text in typed:
        with contextlib.suppress(IndicatorError):
            indicator = parse(text)
            out.setdefault(indicator.label, indicator)
    return list(out.values())


def cli(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["search", *args]) == 0
    return out.getvalue()


def check_cli(out: Path, indicator: Indicator, want: dict[str, str]) -> None:
    printed = [
        orjson.loads(x)
        for x in cli(
            "--path", str(out), "--format", "json", "--summary", "--limit", "200", indicator.label
        ).splitlines()
    ]
    (head,) = printed[0]["summary"]
    rows = {r["p_row_id"] for r in printed[1:] if "p_row_id" in r}
    assert not [r for r in printed[1:] if "cut" in r], "every match fits in --limit 200"
    assert rows == set(want), ("cli rows", indicator.label)
    assert head["events"] == len(want) and head["complete"], ("cli count", indicator.label)
    if want:
        assert (head["first_seen"], head["last_seen"]) == (min(want.values()), max(want.values()))
    every = cli("--path", str(out), "--format", "json", "--all", indicator.label).splitlines()
    assert {orjson.loads(x)["p_row_id"] for x in every} == set(want), ("--all", indicator.label)


def check_cli_together(out: Path, wanted: list[Indicator], lines: list[bytes]) -> None:
    """All of them in one search: every row matching any, once; each indicator's summary
    counts every row it matches (a row holding two counts for both), first and last
    seen included."""
    labels = [i.label for i in wanted]
    printed = [
        orjson.loads(x)
        for x in cli(
            "--path", str(out), "--format", "json", "--summary", "--limit", "200", *labels
        ).splitlines()
    ]
    union = set().union(*(expected(i, lines) for i in wanted))
    assert {r["p_row_id"] for r in printed[1:] if "p_row_id" in r} == union
    heads = {h["indicator"]: h for h in printed[0]["summary"]}
    for indicator in wanted:
        want = expected(indicator, lines)
        head = heads[indicator.label]
        assert head["events"] == len(want), ("together", indicator.label)
        if want:
            assert (head["first_seen"], head["last_seen"]) == (
                min(want.values()),
                max(want.values()),
            )


SEEN = re.compile(
    r"^`(?P<label>[^`]+)`: (?P<count>\d+) event\(s\)(?:, first seen (?P<first>\S+), last seen (?P<last>\S+))?",
    re.M,
)
PAST = re.compile(
    r"^• `(?P<label>[^`]+)`: (?:(?P<count>\d+) event\(s\), (?P<first>\S+) to (?P<last>\S+)|none)$",
    re.M,
)


def ask(analyst: Analyst, receiver: WebhookReceiver, command: str) -> str:
    """`/seclogs ...`'s answer: at once, or, past `answer_within_seconds` on a loaded
    host, posted to the command's response_url."""
    before = len(receiver.requests)
    text: str = analyst.command(command).json()["text"]
    if text.startswith("Searching;"):
        text = receiver.wait_for(before + 1, timeout=120)[before].body["text"]
    return text


def check_slash(
    analyst: Analyst, receiver: WebhookReceiver, indicator: Indicator, want: dict[str, str]
) -> None:
    text = ask(analyst, receiver, f"search {indicator.label}")
    if not want:
        assert text.startswith("No events with "), ("/seclogs", indicator.label, text)
        return
    match = SEEN.search(text)
    assert match is not None, text
    assert int(match["count"]) == len(want), ("/seclogs count", indicator.label, text)
    assert (match["first"], match["last"]) == (min(want.values()), max(want.values()))


def check_slash_together(
    analyst: Analyst, receiver: WebhookReceiver, wanted: list[Indicator], lines: list[bytes]
) -> None:
    text = ask(analyst, receiver, "search " + " ".join(i.label for i in wanted))
    union = set().union(*(expected(i, lines) for i in wanted))
    if union:
        assert text.startswith(f"{len(union)} event(s) with "), text
    else:
        assert text.startswith("No events with "), text


def check_past_hits(text: str, lines: list[bytes]) -> list[str]:
    """Each indicator's line in the confirmation: how many events hold it and when."""
    labels = []
    for match in PAST.finditer(text):
        indicator = parse(match["label"])
        want = expected(indicator, lines)
        got = int(match["count"] or 0)
        assert got == len(want), ("past hits", indicator.label, text)
        if want:
            assert (match["first"], match["last"]) == (min(want.values()), max(want.values()))
        labels.append(indicator.label)
    return labels


def check_watchlist(app: App, lines: list[bytes], watched: list[Indicator]) -> None:
    alerts: list[Alert] = []
    watchlist = Watchlist(app.settings.watchlist, app.store, alerts.append)
    assert {i.label for i in watchlist.current().indicators} == {i.label for i in watched}
    scan = watchlist.watch("acme", "Slack.AuditLogs")
    assert (scan is None) == (not watched)
    if scan is not None:
        scan(lines)
    got = {(a.context["indicator"], a.context["p_row_id"]) for a in alerts}
    want = {(i.label, rid) for i in watched for rid in expected(i, lines)}
    assert got == want


@pytest.mark.slow
@pytest.mark.timeout(900)  # ~30 s alone; several times that on a loaded machine
def test_cli_slash_past_hits_and_watchlist_agree_with_the_rule(tmp_path: Path) -> None:
    with (
        FakeSlack(tokens=(TOKEN,)) as slack,
        FakeSlackWeb(BOT_TOKEN) as web,
        WebhookReceiver() as receiver,
    ):

        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @example(  # a row holding both: the second's past hits said "none" (fixed)
            [
                planted(
                    0,
                    ip="198.51.100.7",
                    name="198.51.100.7",
                    email="198.51.100.7",
                    entity="2001:db8::9",
                    details="198.51.100.7",
                )
            ],
            ["198.51.100.7", "2001:db8::9"],
            [False],
        )
        @given(
            events(),
            st.lists(TYPED, min_size=1, max_size=4),
            st.lists(st.booleans(), min_size=1, max_size=3),
        )
        def agree(raw: list[dict[str, Any]], typed: list[str], indexed: list[bool]) -> None:
            root = Path(tempfile.mkdtemp(dir=tmp_path))
            cfg = daemon_settings(root, slack, web)
            lines = land(Path(cfg.output.path), raw, indexed)
            wanted = analyst_indicators(typed)
            for indicator in wanted:
                check_cli(Path(cfg.output.path), indicator, expected(indicator, lines))
            check_cli_together(Path(cfg.output.path), wanted, lines)
            app = App(cfg)
            try:
                app.start_slash()
                analyst = Analyst(app, web, receiver)
                for indicator in wanted:
                    check_slash(analyst, receiver, indicator, expected(indicator, lines))
                check_slash_together(analyst, receiver, wanted, lines)
                before = len(receiver.requests)
                answer = analyst.submit(
                    analyst.open("submit"),
                    {"indicators": "\n".join(typed), "watchlist": "phishing"},
                )
                submitted: list[str] = []
                if answer.get("response_action") == "clear":
                    text = analyst.confirmation(before + 1)
                    submitted = check_past_hits(text, lines)
                for indicator in wanted:
                    analyst.command(f"watch add {indicator.label}")
                watched = [parse(label) for label in app.watchlist.listing()["slack"]]
                assert set(submitted) <= {i.label for i in watched}
                check_watchlist(app, lines, watched)
            finally:
                app.close()

        agree()
