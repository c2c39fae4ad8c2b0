"""What `/seclogs ...` does, apart from HTTP: parse the text, act, phrase the reply.

`search` may take longer than Slack's 3 seconds, so it is returned as work for the
server to run (and post to `response_url` when late); the `watch` commands are quick
and answered at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connector.search import render
from connector.search.indicators import Indicator, IndicatorError, parse
from connector.search.provenance import Entry
from connector.search.query import Hit, SearchError
from connector.search.watchlist import Watchlist

Search = Callable[[Sequence[Indicator]], list[Hit]]
TEXT_LIMIT = 3500
LIST_LIMIT = 30
"""Indicators `/seclogs watch list` shows with their provenance (a store read each)."""

HELP = """*/seclogs* searches the Slack security logs this connector landed (last 30 days).
• `/seclogs search <indicator> [...]`: an IP or CIDR range, an email, a user id
  (`U...`, `W...`), an `@username`, or text
• `/seclogs submit`: a dialog to paste indicators (defanged is fine) into a watchlist
• `/seclogs report`: a dialog for a report; every indicator in it is watched
• `/seclogs watch add <indicator>`: alert when it shows up in new logs
• `/seclogs watch list`: what is watched, and where each entry comes from
• `/seclogs watch remove <indicator>`: stop watching one added from Slack
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
                return Reply("Usage: `/seclogs search <indicator> [...]`")
            return Reply(indicators=tuple(parse(a) for a in args))
        if verb == "watch":
            return Reply(_watch(args, watchlist, user))
    except IndicatorError as exc:
        return Reply(f"Cannot use that indicator: {exc}")
    return Reply(f"Unknown command `{_clip(verb, 40)}`.\n{HELP}")


def _watch(args: list[str], watchlist: Watchlist, user: str) -> str:
    action = args[0].lower() if args else "list"
    value = " ".join(args[1:])
    if action == "add" and value:
        indicator = watchlist.add(value, Entry(watchlist.cfg.lists[0].name, user))
        return f"Watching `{indicator.label}`: new logs that contain it raise an alert."
    if action == "remove" and value:
        if watchlist.remove(value):
            return f"Stopped watching `{parse(value).label}`."
        return f"`{parse(value).label}` was not added from Slack; config entries stay in config."
    if action == "list":
        shown, total = watchlist.show(LIST_LIMIT)
        titles = watchlist.provenance.titles([e for _, _, es in shown for e in es[-3:]])
        lines = [
            f"• `{label}` ({origin})"
            + "".join(f"\n    {e.describe(titles)}" for e in entries[-3:])
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
    return "Usage: `/seclogs watch add|remove <indicator>` or `/seclogs watch list`"


def run_search(indicators: Sequence[Indicator], search: Search, limit: int) -> str:
    """The search's answer as Slack text; errors are phrased, never raised."""
    wanted = ", ".join(f"`{i.label}`" for i in indicators)
    try:
        hits = search(indicators)
    except SearchError as exc:
        return f"Search for {wanted} failed: {exc}"
    if not hits:
        return f"No events with {wanted} in the last 30 days."
    lines = [
        f"{h.event_time}  {h.row.get('p_log_type', '')}  {h.row.get('p_source_id', '')}  "
        f"[{h.indicator.label}]  {render.summary(h.row)}"
        for h in hits[:limit]
    ]
    more = " (the newest shown)" if len(hits) >= limit else ""
    head = f"{len(lines)} event(s) with {wanted}{more}:\n```"
    body = _clip("\n".join(lines), TEXT_LIMIT - len(head) - 4)
    return f"{head}\n{body}\n```"


def past_hits(indicators: Sequence[Indicator], search: Search, limit: int) -> str:
    """A submission's look back: per indicator how many events hold it, then the events.
    One search serves them all; counts are of the newest `limit` events when it is hit."""
    try:
        hits = search(indicators)
    except SearchError as exc:
        return f"the search failed: {exc}"
    capped = " (of the newest shown)" if len(hits) >= limit else ""
    lines = []
    for indicator in indicators:
        times = [h.event_time for h in hits if indicator.matches(h.row, h.line)]
        seen = f"{len(times)} event(s){capped}, {min(times)} to {max(times)}" if times else "none"
        lines.append(f"• `{indicator.label}`: {seen}")
    if hits:
        lines.append(run_search(indicators, lambda _: hits, limit))
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
