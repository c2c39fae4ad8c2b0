"""`slack-connector once`: poll every source and log type once; exit 0 only if all succeeded."""

from __future__ import annotations

import argparse

from connector.cli.output import say
from connector.config.settings import Settings
from connector.service.app import App


def command(settings: Settings, args: argparse.Namespace) -> int:
    app = App(settings)
    try:
        outcomes = app.once()
    finally:
        app.close()
    for o in outcomes:
        r = o.result
        counts = (
            f"written={r.written} quarantined={r.quarantined} duplicates={r.duplicates} "
            f"objects={r.objects}"
            if r
            else o.detail
        )
        say(f"{o.source_id} {o.log_type}: {o.state} {counts}")
    return 0 if all(o.ok for o in outcomes) else 1
