"""Paging as small parts a log type declares: requester, paginator, stop rule, guard, watermark.

Each part is correct for every behaviour Slack's documentation leaves open (see
`../shared/SLACK_API.md`, UNCERTAIN), and each is property-tested against a model of the
API in `tests/test_paging_properties.py`.

Streams are built here on the contract of `connector.stream` (pages, the poll context
and the checkpoint each stream owns); `logtypes/` declares which parts each log type
uses, so imports run one way: `logtypes` -> `paging` -> `stream`.

May import: `stream`, `slack`, foundations.
"""

from connector.paging.access_stream import AccessCheckpoint, AccessStream
from connector.paging.guard import LoopGuard, PagingLimitError, PagingLoopError
from connector.paging.numbered import (
    DetectedOrder,
    Listing,
    ListingCheckpoint,
    NewestFirst,
    NumberedPages,
)
from connector.paging.requester import Requester
from connector.paging.stop import LastRowBefore, PageOlderThan
from connector.paging.watermark import Watermark
from connector.paging.window import AuditCheckpoint, Backfill, CursorPages, TimeWindows

__all__ = [
    "AccessCheckpoint",
    "AccessStream",
    "AuditCheckpoint",
    "Backfill",
    "CursorPages",
    "DetectedOrder",
    "LastRowBefore",
    "Listing",
    "ListingCheckpoint",
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
