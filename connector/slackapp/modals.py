"""The two modals (`/seclogs submit`, `/seclogs report`) and how their answers are read.

Each view carries, in `private_metadata`, the channel and `response_url` of the command
that opened it: a `view_submission` has neither, and the confirmation goes back to that
channel, only to the submitter, through the command's `response_url` (good for 30
minutes). Slack returns `private_metadata` as it was given, inside the signed payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from connector.config.sections import NamedList

SUBMIT = "seclogs_submit"
REPORT = "seclogs_report"
MAX_INDICATORS_TEXT = 3000
MAX_BODY = 3000
"""Slack's own limit for a plain-text input."""


@dataclass(frozen=True)
class Origin:
    """Where the command that opened the modal was run."""

    channel: str = ""
    response_url: str = ""

    def metadata(self) -> str:
        return orjson.dumps({"channel": self.channel, "response_url": self.response_url}).decode()

    @classmethod
    def read(cls, metadata: Any) -> Origin:
        try:
            value = orjson.loads(metadata) if isinstance(metadata, str) and metadata else {}
        except orjson.JSONDecodeError:
            value = {}
        if not isinstance(value, dict):
            value = {}
        return cls(str(value.get("channel", "")), str(value.get("response_url", "")))


def _text(title: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": title}


def _input(
    block_id: str,
    label: str,
    *,
    multiline: bool = False,
    optional: bool = False,
    max_length: int = 150,
    hint: str = "",
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": multiline,
        "max_length": max_length,
    }
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "optional": optional,
        "element": element,
    }
    if hint:
        block["hint"] = _text(hint)
    return block


def _lists(lists: Sequence[NamedList]) -> dict[str, Any]:
    options = [
        {
            "text": _text(n.name),
            "value": n.name,
            **({"description": _text(n.description[:75])} if n.description else {}),
        }
        for n in lists
    ]
    return {
        "type": "input",
        "block_id": "watchlist",
        "label": _text("Watchlist"),
        "element": {
            "type": "static_select",
            "action_id": "value",
            "options": options,
            "initial_option": options[0],
        },
    }


def _view(
    callback_id: str, title: str, blocks: list[dict[str, Any]], origin: Origin
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _text(title),
        "submit": _text("Submit"),
        "close": _text("Cancel"),
        "private_metadata": origin.metadata(),
        "blocks": blocks,
    }


def submit_view(lists: Sequence[NamedList], origin: Origin) -> dict[str, Any]:
    return _view(
        SUBMIT,
        "Submit indicators",
        [
            _input(
                "indicators",
                "Indicators",
                multiline=True,
                max_length=MAX_INDICATORS_TEXT,
                hint="IPs, CIDR ranges, emails, user ids, domains, URLs; defanged is fine.",
            ),
            _lists(lists),
            _input("tags", "Tags", optional=True, hint="Comma-separated."),
            _input("note", "Note", optional=True, multiline=True, max_length=500),
        ],
        origin,
    )


def report_view(lists: Sequence[NamedList], origin: Origin) -> dict[str, Any]:
    return _view(
        REPORT,
        "Submit a report",
        [
            _input("title", "Title"),
            _input(
                "body",
                "Report",
                multiline=True,
                max_length=MAX_BODY,
                hint="Every indicator in it is extracted and watched with the report as context.",
            ),
            _lists(lists),
            _input("tags", "Tags", optional=True, hint="Comma-separated."),
        ],
        origin,
    )


def values(view: Any) -> dict[str, str]:
    """Each block's answer as text: a typed value or a selected option's value."""
    state = view.get("state", {}) if isinstance(view, dict) else {}
    blocks = state.get("values", {}) if isinstance(state, dict) else {}
    out: dict[str, str] = {}
    for block_id, actions in blocks.items() if isinstance(blocks, dict) else ():
        action = actions.get("value") if isinstance(actions, dict) else None
        if not isinstance(action, dict):
            continue
        selected = action.get("selected_option")
        if isinstance(selected, dict):
            out[str(block_id)] = str(selected.get("value") or "")
        else:
            out[str(block_id)] = str(action.get("value") or "")
    return out
