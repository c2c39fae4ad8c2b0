"""Slack's anomaly reason codes and the severity each one carries.

The default map follows what a reason says about the account, not how rare it is:

- `high`: someone else very likely holds the session or is attacking with it. A Tor exit
  (`tor`), a session cookie replayed from another device (`session_fingerprint`), a client
  lying about what it is (`spoofed_user_agent`), password spraying from the account
  (`unexpected_credential_testing`), malware being uploaded (`excessive_malware_uploads`),
  and bulk reading of the workspace (`unexpected_scraping`).
- `medium`: data leaving or being destroyed, or admin power used oddly, which a real user
  also does on a busy day: `excessive_downloads`, `excessive_file_shares`,
  `search_volume`, `unexpected_api_call_volume`, `unexpected_message_deletion`,
  `unexpected_admin_action`, `unexpected_client`. Codes Slack adds later, and anomalies
  whose reason is missing or malformed, are `medium` too: unknown is neither noise nor a
  page.
- `low`: the network or device changed (`ip_address`, `asn`, `user_agent`,
  `unexpected_user_agent`): travel, a new ISP or an app update explain most of them, and
  Slack sends `asn` together with `ip_address`, so on their own they never page.

Nothing is `critical` by default: Slack's anomalies are heuristics, and every peer that
made them all critical was asked to stop (panther-analysis #1334). An operator raises a
code with `[detections.anomaly] severity = { tor = "critical" }`. An event with several
reasons gets the highest of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.alerts.severity import Severity, highest

DEFAULT_SEVERITY: dict[str, Severity] = {
    "tor": "high",
    "session_fingerprint": "high",
    "spoofed_user_agent": "high",
    "unexpected_credential_testing": "high",
    "excessive_malware_uploads": "high",
    "unexpected_scraping": "high",
    "excessive_downloads": "medium",
    "excessive_file_shares": "medium",
    "search_volume": "medium",
    "unexpected_api_call_volume": "medium",
    "unexpected_message_deletion": "medium",
    "unexpected_admin_action": "medium",
    "unexpected_client": "medium",
    "ip_address": "low",
    "asn": "low",
    "user_agent": "low",
    "unexpected_user_agent": "low",
}
DOCUMENTED = frozenset(DEFAULT_SEVERITY)
UNKNOWN: Severity = "medium"
NETWORK_ONLY = frozenset({"ip_address", "asn"})


def reasons_of(details: Any) -> tuple[list[str], bool]:
    """The reason codes of an anomaly's `details`, and whether `reason` was well formed.

    Slack sends an array of strings. A bare string (an older or hand-made event) is read
    as one comma-separated list; anything else (missing, a number, an object) gives no
    codes and `False`, and the alert says so instead of guessing."""
    raw = details.get("reason") if isinstance(details, dict) else None
    if isinstance(raw, list):
        codes = [str(c).strip() for c in raw if c is not None and str(c).strip()]
        return list(dict.fromkeys(codes)), all(isinstance(c, str) for c in raw)
    if isinstance(raw, str) and raw.strip():
        return list(dict.fromkeys(c.strip() for c in raw.split(",") if c.strip())), True
    return [], False


class SeverityMap:
    """The defaults with the operator's overrides on top."""

    def __init__(self, overrides: Mapping[str, Severity] | None = None) -> None:
        self.levels: dict[str, Severity] = {**DEFAULT_SEVERITY, **(overrides or {})}

    def of(self, code: str) -> Severity:
        return self.levels.get(code, UNKNOWN)

    def highest(self, codes: list[str]) -> Severity:
        """The highest of the codes' levels; `UNKNOWN` when there are none."""
        return highest((self.of(c) for c in codes), default=UNKNOWN)
