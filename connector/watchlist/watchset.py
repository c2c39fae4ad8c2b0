"""The indicators in force as one matcher over written pages: which lines may hold a
watched indicator (one Aho-Corasick pass over the page) and which indicators a line holds
(`Indicator.matches`, the one rule search and the slash command use too)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import Any

import orjson
from ahocorasick_rs import AhoCorasick, BytesAhoCorasick

from connector.indicators.match import Indicator

_IPS = re.compile(rb'"p_any_ip_addresses":\[')


class WatchSet:
    """The indicators in force, with one Aho-Corasick automaton over all their needles.

    A page is scanned once whatever the number of indicators (1.8 µs an event for 100
    or 1,000 of them, where one `find` per needle cost 46 µs for 100). Needles are
    lower-case; ASCII ones are found in the page's bytes lowered by `bytes.lower`, the
    rare non-ASCII ones in the decoded and lowered text.
    """

    def __init__(self, indicators: tuple[Indicator, ...] = ()) -> None:
        self.indicators = indicators
        needles = list(dict.fromkeys(i.needle for i in indicators if i.needle))
        ascii_ = [n.encode() for n in needles if n.isascii()]
        other = [n for n in needles if not n.isascii()]
        self._bytes = BytesAhoCorasick(ascii_) if ascii_ else None
        self._text = AhoCorasick(other) if other else None
        self._networks = any(not i.needle for i in indicators)

    def candidates(self, lines: Sequence[bytes]) -> list[int]:
        """Indexes of the lines that may match; every line that does is among them."""
        blob = b"\n".join(lines).lower()
        found: set[int] = set()
        if self._bytes is not None or self._networks:
            starts = _starts(lines)
            if self._bytes is not None:
                hits = self._bytes.find_matches_as_indexes(blob)
                found.update(bisect.bisect_right(starts, at) - 1 for _, at, _ in hits)
            if self._networks:
                at_ips = (m.start() for m in _IPS.finditer(blob))
                found.update(bisect.bisect_right(starts, at) - 1 for at in at_ips)
        if self._text is not None:
            text = blob.decode("utf-8", "replace").lower()
            starts = [0, *(i + 1 for i, c in enumerate(text) if c == "\n")]
            hits = self._text.find_matches_as_indexes(text)
            found.update(bisect.bisect_right(starts, at) - 1 for _, at, _ in hits)
        return sorted(found)

    def matches(self, line: bytes) -> tuple[dict[str, Any], list[Indicator]]:
        row = orjson.loads(line)
        text = line.decode("utf-8", "replace")
        return row, [i for i in self.indicators if i.matches(row, text)]


def _starts(lines: Sequence[bytes]) -> list[int]:
    starts, at = [], 0
    for line in lines:
        starts.append(at)
        at += len(line) + 1
    return starts
