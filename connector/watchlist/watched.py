"""Where a watched indicator comes from, as a search's summary shows it: the lists that
hold it and, for each Slack submission, who added it, tagged what and why."""

from __future__ import annotations

from connector.indicators.match import Indicator
from connector.search import summary
from connector.watchlist.provenance import Entry
from connector.watchlist.watchlist import Watchlist


def watched_in(watchlist: Watchlist) -> summary.Watched:
    """Which lists hold an indicator, tagged what, added by whom and why, for the
    search's summary: each Slack submission's provenance, and config or file entries by
    where they come from."""

    def watched(indicator: Indicator) -> list[summary.WatchEntry]:
        origins = [o for o, labels in watchlist.listing().items() if indicator.label in labels]
        if not origins:
            return []
        entries = watchlist.provenance.entries(indicator.label)
        titles = watchlist.provenance.titles(entries)
        out = [summary.WatchEntry(e.list, e.tags, e.by, e.at, _why(e, titles)) for e in entries]
        return out + [summary.WatchEntry(o) for o in origins if o != "slack" or not entries]

    return watched


def _why(entry: Entry, titles: dict[str, str]) -> str:
    if entry.report:
        title = titles.get(entry.report, "")
        return f'report "{title}"' if title else f"report {entry.report}"
    return f'note "{entry.note}"' if entry.note else ""
