"""How urgent an alert is, and how each destination says so.

Five levels, ordered: `info` (worth knowing, nobody acts at once), `low`, `medium`,
`high`, `critical` (wake someone). A rule picks its alerts' level; a destination maps it
onto its own scale: PagerDuty's four severities and a Slack message's colour bar.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

Severity = Literal["info", "low", "medium", "high", "critical"]
LEVELS: tuple[Severity, ...] = get_args(Severity)
RANK = {level: i for i, level in enumerate(LEVELS)}

PAGERDUTY: dict[Severity, str] = {
    "info": "info",
    "low": "info",
    "medium": "warning",
    "high": "error",
    "critical": "critical",
}
"""PagerDuty has four: `low` stays `info` there, so only `medium` and above raise urgency
in a service whose urgency follows severity."""

COLOUR: dict[Severity, str] = {
    "info": "#9e9e9e",
    "low": "#2eb6f0",
    "medium": "#ecb22e",
    "high": "#e01e5a",
    "critical": "#7a0019",
}
RESOLVED_COLOUR = "#2eb67d"


def highest(levels: Iterable[Severity], default: Severity = "info") -> Severity:
    """The most urgent of `levels`; `default` when there are none."""
    return max(levels, key=RANK.__getitem__, default=default)
