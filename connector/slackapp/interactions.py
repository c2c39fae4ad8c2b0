"""The modals' side of `/seclogs`: open them, and act on what analysts submit in them.

`/seclogs submit` and `/seclogs report` open a modal with the command's `trigger_id`.
Its `view_submission` comes back to the interactivity endpoint, already authenticated
by the server as a slash command is. Nothing usable in it (no indicator, a list the
analyst may not add to) is said in the modal (`response_action: errors`), which stays
open; otherwise the indicators are watched with who, when, list, tags and context, the
modal closes, and the confirmation, with each added indicator's hits over the last 30
days, is posted only to the submitter, in the channel the command came from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from connector.config.sections import WatchlistConfig
from connector.indicators.match import Indicator
from connector.search import summary
from connector.search.extract import extract, extract_list
from connector.slack.mrkdwn import escape
from connector.slackapp import modals
from connector.slackapp.modals import Origin
from connector.slackapp.slack_web import SlackWeb, SlackWebError
from connector.watchlist.provenance import Entry, Report, tags
from connector.watchlist.watchlist import Added, Watchlist

log = logging.getLogger(__name__)

PastHits = Callable[[Sequence[Indicator]], str]
"""The 30-day search of the slash command, phrased as its reply."""
LIST_LIMIT = 25
MAX_INDICATORS = 100
"""At most this many in one submission: each is a store write while Slack waits its 3
seconds (`python -m bench.extract`)."""
Body = dict[str, Any] | None
FollowUp = Callable[[bool], None] | None
"""The confirmation, posted after Slack has its answer; called with False when the
search worker is too busy for the past hits, so the confirmation goes without them."""

VIEWS = {"submit": modals.submit_view, "report": modals.report_view}
BUSY = (
    "*Past 30 days:* not searched, too many searches are queued; "
    "`/seclogs search` them in a minute."
)


@dataclass(frozen=True)
class Submitter:
    user: str
    team: str
    channel: str


def open_modal(verb: str, form: dict[str, str], web: SlackWeb, cfg: WatchlistConfig) -> Body:
    """Open the verb's modal; None (Slack then shows nothing) or an ephemeral error."""
    trigger = form.get("trigger_id", "")
    if not trigger:
        return _ephemeral("Slack sent no trigger_id, so no dialog can be opened.")
    origin = Origin(form.get("channel_id", ""), form.get("response_url", ""))
    try:
        web.open_view(trigger, VIEWS[verb](cfg.lists, origin))
    except SlackWebError as exc:
        return _ephemeral(f"Could not open the dialog: {exc}")
    return None


class Submissions:
    def __init__(
        self, watchlist: Watchlist, past_hits: PastHits, post: Callable[[str, str], None]
    ) -> None:
        self.watchlist = watchlist
        self._past_hits = past_hits
        self._post = post

    def handle(
        self, payload: dict[str, Any], refusal: Callable[[Submitter], str]
    ) -> tuple[Body, FollowUp]:
        """The answer to Slack now, and the work (past hits, confirmation) to do after."""
        if payload.get("type") != "view_submission":
            return None, None
        view = _dict(payload.get("view"))
        callback = str(view.get("callback_id", ""))
        if callback not in (modals.SUBMIT, modals.REPORT):
            return None, None
        first_block = "indicators" if callback == modals.SUBMIT else "title"
        origin = Origin.read(view.get("private_metadata"))
        user, team = _dict(payload.get("user")), _dict(payload.get("team"))
        who = Submitter(
            str(user.get("id", "")), str(team.get("id") or user.get("team_id", "")), origin.channel
        )
        refused = refusal(who)
        if refused:
            return _errors(first_block, refused), None
        answers = modals.values(view)
        listed = self.watchlist.cfg.named(answers.get("watchlist", ""))
        if listed is None:
            return _errors("watchlist", "Pick one of the watchlists offered."), None
        if listed.owners and who.user not in listed.owners:
            owners = ", ".join(f"<@{o}>" for o in listed.owners)
            return _errors("watchlist", f"Only its owners ({owners}) add to {listed.name}."), None
        entry = Entry(listed.name, who.user, tags=tags(answers.get("tags", "")))
        if callback == modals.SUBMIT:
            return self._indicators(answers, entry, origin)
        return self._report(answers, entry, origin)

    def _indicators(
        self, answers: dict[str, str], entry: Entry, origin: Origin
    ) -> tuple[Body, FollowUp]:
        found, nothing = extract_list(answers.get("indicators", ""))
        if not found:
            return _errors(
                "indicators",
                "No indicator found: paste IPs, CIDR ranges, emails, user ids, domains or "
                "URLs, one a line or comma-separated.",
            ), None
        if len(found) > MAX_INDICATORS:
            return _errors("indicators", _too_many(len(found))), None
        note = " ".join(answers.get("note", "").split())[:500]
        entry = Entry(entry.list, entry.by, entry.at, entry.tags, note=note)
        added = self.watchlist.add_all(found, entry)
        if not (added.added or added.already):
            return _errors("indicators", _refusals(added)), None
        log.info(
            "indicators submitted from slack",
            extra={"user": entry.by, "list": entry.list, "added": len(added.added)},
        )
        head = f"Submitted to watchlist *{escape(entry.list)}*{_tagged(entry)}."
        return _close(), self._confirm(origin, head, added, nothing)

    def _report(
        self, answers: dict[str, str], entry: Entry, origin: Origin
    ) -> tuple[Body, FollowUp]:
        title = " ".join(answers.get("title", "").split())[:150]
        body = answers.get("body", "")[: modals.MAX_BODY]
        found = extract(f"{title}\n{body}")
        if not found:
            return _errors("body", "No indicator found in this report; nothing to watch."), None
        if len(found) > MAX_INDICATORS:
            return _errors("body", _too_many(len(found))), None
        report = Report(title, body, entry.by, entry.list, entry.tags, entry.at)
        entry = Entry(entry.list, entry.by, entry.at, entry.tags, report=report.id)
        added = self.watchlist.add_all(found, entry)
        if not (added.added or added.already):
            return _errors("body", _refusals(added)), None
        watched = tuple(i.label for i in [*added.added, *added.already])
        report_id = self.watchlist.provenance.save_report(replace(report, indicators=watched))
        log.info(
            "report submitted from slack",
            extra={"user": entry.by, "list": entry.list, "report": report_id},
        )
        head = (
            f'Report "{escape(title)}" ({report_id}) saved to watchlist '
            f"*{escape(entry.list)}*{_tagged(entry)}."
        )
        return _close(), self._confirm(origin, head, added, [])

    def _confirm(self, origin: Origin, head: str, added: Added, nothing: Sequence[str]) -> FollowUp:
        def work(search: bool) -> str:
            lines = [head, *_outcome(added, nothing)]
            if added.added and search:
                lines += ["*Past 30 days:*", self._past_hits(added.added)]
            elif added.added:
                lines.append(BUSY)
            return "\n".join(lines)

        if not origin.response_url:
            log.warning("slack submission: no response_url to confirm to")
            return None
        return lambda search: self._post(origin.response_url, work(search))


def _outcome(added: Added, nothing: Sequence[str]) -> list[str]:
    def names(items: Sequence[str]) -> str:
        shown = ", ".join(summary.SLACK.code(i) for i in items[:LIST_LIMIT])
        more = f" and {len(items) - LIST_LIMIT} more" if len(items) > LIST_LIMIT else ""
        return shown + more

    lines = []
    if added.added:
        lines.append(f"*Added ({len(added.added)}):* " + names([i.label for i in added.added]))
    if added.already:
        lines.append(
            f"*Already watched ({len(added.already)}):* " + names([i.label for i in added.already])
        )
    not_ones = [*nothing, *(f"{label} ({why})" for label, why in added.refused)]
    if not_ones:
        lines.append(f"*Not an indicator ({len(not_ones)}):* " + names(not_ones))
    return lines


def _too_many(count: int) -> str:
    return f"{count} indicators found; at most {MAX_INDICATORS} in one submission: split it."


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _refusals(added: Added) -> str:
    return "; ".join(f"{label}: {why}" for label, why in added.refused)[:300]


def _tagged(entry: Entry) -> str:
    return f", tagged {', '.join(escape(t) for t in entry.tags)}" if entry.tags else ""


def _errors(block: str, message: str) -> dict[str, Any]:
    return {"response_action": "errors", "errors": {block: message[:300]}}


def _close() -> dict[str, Any]:
    return {"response_action": "clear"}


def _ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}
