"""Long crash run: `python -m tests.chaos.crash_run --kills 200 [--seed N]`.

Starts its own moto S3 server on 127.0.0.1, runs the harness, prints the table, and
exits 0 only when every event landed exactly once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from tests.chaos.harness import MODES, run_chaos
from tests.fakes.moto_server import AWS_ENV


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.crash_run", description=__doc__)
    parser.add_argument(
        "--kills",
        type=int,
        default=20,
        help="kills (mostly SIGKILL, some SIGTERM) before catching up",
    )
    parser.add_argument("--seed", type=int, default=None, help="replay a run's kill plan")
    parser.add_argument("--min-run", type=float, default=0.4, help="shortest life (random kills)")
    parser.add_argument("--max-run", type=float, default=4.0, help="longest life (random kills)")
    parser.add_argument(
        "--modes", default="", help=f"comma list cycled instead of the plan: {','.join(MODES)}"
    )
    parser.add_argument(
        "--trigger-timeout", type=float, default=6.0, help="kill anyway if a trigger never fires"
    )
    parser.add_argument("--page-size", type=int, default=20)
    parser.add_argument("--audit-max-page", type=int, default=10)
    parser.add_argument("--batch-max-events", type=int, default=40)
    parser.add_argument(
        "--overlap", type=int, default=300, help="late_event_overlap_seconds for the daemon"
    )
    parser.add_argument(
        "--max-late", type=int, default=120, help="how late (s) new events may be dated; < overlap"
    )
    parser.add_argument(
        "--knob",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help='set a FakeSlack knob (JSON value), e.g. access_sort_key="date_first"',
    )
    parser.add_argument(
        "--ocsf", action="store_true", help="with the OCSF output on, its lake checked too"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep state, config, logs here")
    args = parser.parse_args(argv)

    knobs: dict[str, object] = {}
    for item in args.knob:
        name, _, raw = item.partition("=")
        try:
            knobs[name] = json.loads(raw)
        except ValueError:
            knobs[name] = raw
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for key, value in AWS_ENV.items():
        os.environ[key] = value
    os.environ.pop("AWS_PROFILE", None)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="slack-chaos-"))
    try:
        result = run_chaos(
            workdir,
            f"http://{host}:{port}",
            kills=args.kills,
            seed=args.seed,
            min_run=args.min_run,
            max_run=args.max_run,
            trigger_timeout=args.trigger_timeout,
            modes=[m for m in args.modes.split(",") if m] or None,
            page_size=args.page_size,
            audit_max_page=args.audit_max_page or None,
            batch_max_events=args.batch_max_events,
            knobs=knobs,
            late_overlap=args.overlap,
            max_late=args.max_late,
            log=lambda line: print(line, flush=True),
            ocsf=args.ocsf,
        )
    finally:
        server.stop()
    print("PASS" if result.ok else "FAIL", flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
