"""What Slack may send the interactivity endpoint is not all documented (other payload
types, missing or oddly typed fields): whatever arrives, a submission is answered with
nothing, a close, or an error in the modal, and never raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.config.sections import NamedList, WatchlistConfig
from connector.slackapp import modals
from connector.slackapp.interactions import Submissions
from connector.state.sqlite import StateStore
from connector.watchlist.watchlist import Watchlist

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
ANSWER = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {
            "value": st.one_of(
                JSON,
                st.fixed_dictionaries(
                    {
                        "type": st.just("plain_text_input"),
                        "value": st.one_of(st.none(), st.text(max_size=40), st.just("10.0.0.1")),
                    }
                ),
                st.fixed_dictionaries(
                    {
                        "selected_option": st.one_of(
                            JSON,
                            st.fixed_dictionaries(
                                {"value": st.sampled_from(["phishing", "nope", ""])}
                            ),
                        )
                    }
                ),
            )
        }
    ),
)
VIEW = st.fixed_dictionaries(
    {
        "callback_id": st.sampled_from([modals.SUBMIT, modals.REPORT, "other", ""]),
        "private_metadata": st.one_of(JSON, st.just('{"channel": 1}'), st.just("not json")),
        "state": st.one_of(
            JSON,
            st.fixed_dictionaries(
                {
                    "values": st.dictionaries(
                        st.sampled_from(
                            ["indicators", "watchlist", "tags", "note", "title", "body"]
                        ),
                        ANSWER,
                    )
                }
            ),
        ),
    }
)
PAYLOAD = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["view_submission", "view_closed", "block_actions", "shortcut"]
            ),
            "user": st.one_of(
                JSON, st.fixed_dictionaries({"id": st.sampled_from(["U0A1B2C3", ""])})
            ),
            "team": JSON,
            "view": st.one_of(JSON, VIEW),
        }
    ),
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(payload=PAYLOAD)
def test_any_payload_is_answered_and_never_raises(tmp_path: Path, payload: Any) -> None:
    store = StateStore(str(tmp_path / "state.db"))
    try:
        cfg = WatchlistConfig(lists=[NamedList(name="phishing")])
        submissions = Submissions(Watchlist(cfg, store, lambda a: None), lambda i: "", print)
        body, follow_up = submissions.handle(
            payload if isinstance(payload, dict) else {}, lambda who: ""
        )
    finally:
        store.close()
    assert (
        body is None
        or body == {"response_action": "clear"}
        or (
            body["response_action"] == "errors"
            and all(isinstance(v, str) and v for v in body["errors"].values())
        )
    )
    assert follow_up is None or body == {"response_action": "clear"}
