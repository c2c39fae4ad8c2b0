"""Loop detection and depth limits: a poll always ends, and says why when it cannot finish."""

from __future__ import annotations

from connector.slack.errors import SlackTransientError

MAX_PAGES = 50_000
"""Deeper than any real poll or backfill (1M audit events at 100 a page is 10,000 pages)."""


class PagingLoopError(SlackTransientError):
    """Slack repeated a cursor or paging never ended: what was read is written, the
    checkpoint stays where the written pages put it, and the next poll tries again."""


class PagingLimitError(SlackTransientError):
    """Records the API cannot reach (Slack's 100-page cap); committing would hide a gap."""


class LoopGuard:
    """Remembers every cursor of one pass; a repeat or too many pages stops the poll."""

    def __init__(self, source_id: str, method: str, max_pages: int = MAX_PAGES) -> None:
        self.source_id = source_id
        self.method = method
        self.max_pages = max_pages
        self.pages = 0
        self._cursors: set[str] = set()

    def step(self, cursor: str) -> None:
        """Call once per page received, with the cursor that page returned ("" at the end)."""
        self.pages += 1
        if cursor and cursor in self._cursors:
            raise PagingLoopError(
                self.source_id, self.method, f"Slack repeated a cursor after {self.pages} pages"
            )
        if self.pages >= self.max_pages and cursor:
            raise PagingLoopError(
                self.source_id, self.method, f"paging did not end within {self.max_pages} pages"
            )
        self._cursors.add(cursor)
