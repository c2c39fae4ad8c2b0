"""Watched indicators: alert when one shows up in a row being ingested.

The indicators in force are the config's inline list, its file (re-read when its
modification time changes) and those added from Slack (`/seclogs watch add`, kept in
the state store). Every written page is scanned once: its lines are joined and lowered,
every indicator's needle is looked for at once (Aho-Corasick), and only the lines that
hold one are parsed and checked with `Indicator.matches`; a broad CIDR range with no literal
reads the `p_any_ip_addresses` arrays instead. A page with no match costs a few scans of
memory, so ingest does not slow measurably (see `bench/search.py`).

State (the store's watchlist namespace, `watchlist_value`/`set_watchlist_value`, apart
from alert state so reading the open alerts never reads it): one key per (indicator, row)
alerted, so a restart or a re-read overlap never repeats an alert; the hour's counts, so
the rate limit holds across restarts; the indicators added from Slack, and where each
came from (`provenance`: named list, who, when, tags, note or report). Matches held back
by the rate limit are counted, not kept one by one, so a broad watch cannot grow the state
by a key per row; the next alert says how many there were.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector import clock
from connector.alerts.base import Alert
from connector.config.errors import ConfigError
from connector.config.sections import WatchlistConfig
from connector.indicators.match import Indicator, IndicatorError, parse, read_file
from connector.state import StateStore
from connector.watchlist.alert import alert
from connector.watchlist.provenance import Entry, Provenance
from connector.watchlist.watchset import WatchSet

log = logging.getLogger(__name__)

ADDED_KEY = "watchlist:added"
RATE_KEY = "watchlist:rate"
RELOAD_CHECK_SECONDS = 2.0
MIN_TEXT = 4
MIN_PREFIX = {4: 8, 6: 16}


@dataclass
class Added:
    """What a submission did, indicator by indicator, for the submitter's confirmation."""

    added: list[Indicator] = field(default_factory=list)
    already: list[Indicator] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


class Watchlist:
    """Thread-safe: every source's poll thread scans its own pages."""

    def __init__(
        self,
        cfg: WatchlistConfig,
        store: StateStore,
        submit: Callable[[Alert], None],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self._store = store
        self.provenance = Provenance(store)
        self._submit = submit
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._inline = [parse(i) for i in cfg.indicators]
        self._file: list[Indicator] = []
        self._file_mtime: float | None = None
        self._checked = float("-inf")
        added = store.watchlist_value(ADDED_KEY) or {}
        self._added = [parse(i) for i in added.get("indicators", [])]
        self._reload_file(strict=True)
        self._set = self._build()

    def _build(self) -> WatchSet:
        unique = {i.label: i for i in [*self._inline, *self._file, *self._added]}
        return WatchSet(tuple(unique.values()))

    def _reload_file(self, *, strict: bool = False) -> bool:
        """Re-read the file when its modification time changed; True when it did."""
        if not self.cfg.file:
            return False
        try:
            mtime = Path(self.cfg.file).stat().st_mtime
        except OSError:
            mtime = None
        if mtime == self._file_mtime and not strict:
            return False
        try:
            self._file = read_file(self.cfg.file)
        except (OSError, IndicatorError) as exc:
            if strict:
                raise ConfigError(f"watchlist.file: {_reason(exc)}") from None
            log.error("watchlist file not reloaded: %s", _reason(exc))
        self._file_mtime = mtime
        return True

    def current(self) -> WatchSet:
        now = self._monotonic()
        with self._lock:
            if now - self._checked >= RELOAD_CHECK_SECONDS:
                self._checked = now
                if self._reload_file():
                    self._set = self._build()
                    log.info("watchlist reloaded", extra={"indicators": len(self._set.indicators)})
            return self._set

    def listing(self) -> dict[str, list[str]]:
        """Indicators by where they come from, for `/seclogs watch list`."""
        self.current()
        with self._lock:
            return {
                "config": [i.label for i in self._inline],
                "file": [i.label for i in self._file],
                "slack": [i.label for i in self._added],
            }

    def add(self, text: str, entry: Entry | None = None) -> Indicator:
        """Watch one more indicator; raises `IndicatorError` for one that would match
        nearly every row (short text, huge ranges), which only floods alerts and state."""
        indicator = parse(text)
        self._check(indicator)
        with self._lock:
            if indicator.label not in {i.label for i in self._added}:
                self._added.append(indicator)
                self._save_added()
        self.provenance.record(indicator.label, entry or Entry(self.cfg.lists[0].name, ""))
        return indicator

    def add_all(self, indicators: Iterable[Indicator], entry: Entry) -> Added:
        """Watch each one with `entry` as where it came from. One already in force (from
        config, the file or Slack) is told apart, and still gains the entry, so a report
        that mentions it shows in its history."""
        out = Added()
        with self._lock:
            watched = {i.label for i in self._set.indicators}
        for indicator in indicators:
            try:
                self._check(indicator)
            except IndicatorError as exc:
                out.refused.append((indicator.label, str(exc)))
                continue
            (out.already if indicator.label in watched else out.added).append(indicator)
        with self._lock:
            mine = {i.label for i in self._added}
            new = [i for i in out.added if i.label not in mine]
            if new:
                self._added.extend(new)
                self._save_added()
        for indicator in out.added:
            self.provenance.record(indicator.label, entry, first=True)
        for indicator in out.already:
            self.provenance.record(indicator.label, entry)
        return out

    def _check(self, indicator: Indicator) -> None:
        if indicator.kind == "text" and len(indicator.value) < MIN_TEXT:
            raise IndicatorError(f"watched text needs at least {MIN_TEXT} characters")
        if (
            indicator.network is not None
            and indicator.network.prefixlen < MIN_PREFIX[indicator.network.version]
        ):
            raise IndicatorError("that range is too broad to watch")

    def show(self, limit: int | None = None) -> tuple[list[tuple[str, str, list[Entry]]], int]:
        """(label, origin, where it came from) for the first `limit` indicators in force,
        and how many there are: `watchlist show` lists all, `/seclogs watch list` a few
        (each Slack-added one is a read of the store)."""
        every = [(label, origin) for origin, labels in self.listing().items() for label in labels]
        shown = every if limit is None else every[:limit]
        rows = [
            (label, origin, self.provenance.entries(label) if origin == "slack" else [])
            for label, origin in shown
        ]
        return rows, len(every)

    def remove(self, text: str) -> bool:
        """False when it was not added from Slack (config and file entries stay)."""
        label = parse(text).label
        with self._lock:
            kept = [i for i in self._added if i.label != label]
            if len(kept) == len(self._added):
                return False
            self._added = kept
            self._save_added()
        self.provenance.forget(label)
        return True

    def _save_added(self) -> None:
        self._store.set_watchlist_value(ADDED_KEY, {"indicators": [i.label for i in self._added]})
        self._set = self._build()

    def watch(self, source_id: str, log_type: str) -> Callable[[list[bytes]], int] | None:
        """`scan` while anything is watched, else None (the pipeline then keeps no lines);
        every stream is watched alike."""
        return self.scan if self.current().indicators else None

    def poll_done(self, source_id: str, log_type: str) -> None:
        """Each match was alerted as its page was scanned."""

    def scan(self, lines: Sequence[bytes]) -> int:
        """Alert on the rows of one written page that match; returns the alerts raised."""
        watch = self.current()
        if not watch.indicators or not lines:
            return 0
        raised = 0
        for index in watch.candidates(lines):
            row, hits = watch.matches(lines[index])
            for indicator in hits:
                raised += self._hit(indicator, row)
        return raised

    def _hit(self, indicator: Indicator, row: dict[str, Any]) -> int:
        key = f"watchlist:{indicator.label}:{row.get('p_row_id', '')}"
        with self._lock:
            if self._store.watchlist_value(key) is not None:
                return 0
            now = clock.now_ts()
            rate = self._store.watchlist_value(RATE_KEY) or {}
            hour = now // 3600
            if rate.get("hour") != hour:
                rate = {"hour": hour, "sent": 0, "suppressed": 0, "carried": _held(rate)}
            allowed = int(rate["sent"]) < self.cfg.max_alerts_per_hour
            counter = "sent" if allowed else "suppressed"
            rate[counter] = int(rate[counter]) + 1
            carried = int(rate.get("carried", 0)) if allowed else 0
            if allowed:
                rate["carried"] = 0
                self._store.set_watchlist_value(key, {"at": now})
            self._store.set_watchlist_value(RATE_KEY, rate)
        if not allowed:
            if rate["suppressed"] == 1:
                log.warning(
                    "watchlist matches not alerted until the hour ends: rate limit of %d reached",
                    self.cfg.max_alerts_per_hour,
                    extra={"indicator": indicator.label, "p_row_id": row.get("p_row_id")},
                )
            return 0
        self._submit(alert(indicator, row, key, carried, self.provenance.entries(indicator.label)))
        return 1


def _held(rate: dict[str, Any]) -> int:
    return int(rate.get("suppressed", 0)) + int(rate.get("carried", 0))


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"cannot read {exc.filename} ({exc.strerror})"
    return str(exc)
