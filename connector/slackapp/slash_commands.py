"""What `/seclogs ...` does, apart from HTTP: parse the text, act, phrase the reply.

`search` may take longer than Slack's 3 seconds, so it is returned as work for the
server to run (and post to `response_url` when late); the `watch` commands are quick
and answered at once. Replies are Slack mrkdwn: whatever an analyst typed is escaped
(`code`, `escape`), so a note `<!channel>` or a link `<https://x|the runbook>` reads as
typed and pings or disguises nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connector.indicators.match import Indicator, IndicatorError, parse
from connector.search import summary
from connector.search.results import Found, SearchError
from connector.slack.mrkdwn import escape
from connector.watchlist.provenance import Entry
from connector.watchlist.watchlist import Watchlist

Search = Callable[[Sequence[Indicator]], Found]
TEXT_LIMIT = 3500
LIST_LIMIT = 30
"""Indicators `/seclogs watch list` shows with their provenance (a store read each)."""
code = summary.SLACK.code

HELP = """*/seclogs* searches the Slack security logs this connector landed (last 30 days).
• `/seclogs search &lt;indicator&gt; [...]`: an IP or CIDR range, an email, a user id
  (`U...`, `W...`), an `@username`, or text
• `/seclogs submit`: a dialog to paste indicators (defanged is fine) into a watchlist
• `/seclogs report`: a dialog for a report; every indicator in it is watched
• `/seclogs watch add &lt;indicator&gt;`: alert when it shows up in new logs
• `/seclogs watch list`: what is watched, and where each entry comes from
• `/seclogs watch remove &lt;indicator&gt;`: stop watching one added from Slack
• `/seclogs help`: this message
Only you see these replies."""


@dataclass(frozen=True)
class Reply:
    """An answer now (`text`), or a search to run (`indicators`) and answer when done."""

    text: str = ""
    indicators: tuple[Indicator, ...] = ()


def handle(text: str, watchlist: Watchlist, user: str = "") -> Reply:
    words = text.split()
    if not words or words[0].lower() == "help":
        return Reply(HELP)
    verb, args = words[0].lower(), words[1:]
    try:
        if verb == "search":
            if not args:
                return Reply("Usage: `/seclogs search &lt;indicator&gt; [...]`")
            return Reply(indicators=tuple(parse(a) for a in args))
        if verb == "watch":
            return Reply(_watch(args, watchlist, user))
    except IndicatorError as exc:
        return Reply(f"Cannot use that indicator: {escape(str(exc))}")
    return Reply(f"Unknown command {code(_clip(verb, 40))}.\n{HELP}")


def _watch(args: list[str], watchlist: Watchlist, user: str) -> str:
    action = args[0].lower() if args else "list"
    value = " ".join(args[1:])
    if action == "add" and value:
        first = watchlist.cfg.lists[0]
        if first.owners and user not in first.owners:
            owners = ", ".join(f"<@{o}>" for o in first.owners)
            return f"Only its owners ({owners}) add to {first.name}, where `watch add` adds."
        indicator = watchlist.add(value, Entry(first.name, user))
        return f"Watching {code(indicator.label)}: new logs that contain it raise an alert."
    if action == "remove" and value:
        if watchlist.remove(value):
            return f"Stopped watching {code(parse(value).label)}."
        label = code(parse(value).label)
        return f"{label} was not added from Slack; config entries stay in config."
    if action == "list":
        shown, total = watchlist.show(LIST_LIMIT)
        titles = watchlist.provenance.titles([e for _, _, es in shown for e in es[-3:]])
        lines = [
            f"• {code(label)} ({origin})"
            + "".join(f"\n    {e.describe(titles, escape)}" for e in entries[-3:])
            for label, origin, entries in shown
        ]
        if not lines:
            return "Nothing is watched."
        more = (
            f"\n…and {total - len(shown)} more: `slack-connector watchlist show` lists all."
            if total > len(shown)
            else ""
        )
        return _clip("Watched indicators:\n" + "\n".join(lines), TEXT_LIMIT - len(more)) + more
    return "Usage: `/seclogs watch add|remove &lt;indicator&gt;` or `/seclogs watch list`"


def run_search(
    indicators: Sequence[Indicator],
    search: Search,
    limit: int,
    watched: summary.Watched = summary.not_watched,
) -> str:
    """The search's answer as Slack text: what to triage by, then the newest rows, cut
    with the CLI command that shows the rest; errors are phrased, never raised."""
    wanted = ", ".join(code(i.label) for i in indicators)
    try:
        found = search(indicators)
    except SearchError as exc:
        return f"Search for {wanted} failed: {escape(str(exc))}"
    if not found.total:
        watch = [
            f"• {code(i.label)} {summary.watch_line(watched(i), summary.SLACK)}" for i in indicators
        ]
        return "\n".join([f"No events with {wanted} in the last 30 days.", *watch])
    return summary.slack_answer(found, watched, TEXT_LIMIT)


def past_hits(
    indicators: Sequence[Indicator],
    search: Search,
    limit: int,
    watched: summary.Watched = summary.not_watched,
) -> str:
    """A submission's look back: per indicator how many events hold it and when, then the
    answer a search for them all gives (each indicator's summary counts every row that
    holds it, as the watchlist alerts on each)."""
    try:
        found = search(indicators)
    except SearchError as exc:
        return f"the search failed: {escape(str(exc))}"
    lines = []
    for s in found.summaries:
        at_least = "" if s.complete else "at least "
        seen = f"{at_least}{s.count} event(s), {s.first_seen} to {s.last_seen}"
        lines.append(f"• {code(s.indicator.label)}: {seen if s.count else 'none'}")
    if found.total:
        room = TEXT_LIMIT - sum(len(line) + 1 for line in lines)
        lines.append(summary.slack_answer(found, watched, max(room, 500)))
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
