"""Paging as small parts a log type declares: requester, paginator, stop rule, guard, watermark.

Each part is correct for every behaviour Slack's documentation leaves open (see
`../shared/SLACK_API.md`, UNCERTAIN), and each is property-tested against a model of the
API in `tests/test_paging_properties.py`.

May import: `logtypes` (its layer-mate), `slack`, foundations.
"""

import connector.logtypes  # noqa: F401  (first: the log types import these modules)
from connector.paging.guard import LoopGuard, PagingLimitError, PagingLoopError
from connector.paging.numbered import DetectedOrder, Listing, NewestFirst, NumberedPages
from connector.paging.requester import Requester
from connector.paging.stop import LastRowBefore, PageOlderThan
from connector.paging.watermark import Watermark
from connector.paging.window import CursorPages, TimeWindows

__all__ = [
    "CursorPages",
    "DetectedOrder",
    "LastRowBefore",
    "Listing",
    "LoopGuard",
    "NewestFirst",
    "NumberedPages",
    "PageOlderThan",
    "PagingLimitError",
    "PagingLoopError",
    "Requester",
    "TimeWindows",
    "Watermark",
]
