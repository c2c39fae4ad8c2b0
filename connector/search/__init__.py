"""Analyst search over what landed (`query`, `partitions`, `render`, `summary`), answered
from the index written beside each object (`index`, a derived output of `ingest`; queried
in SQL by `lookup`) where there is one and by a scan where not; all matches streamed by
`export`; searches run in worker processes by `worker`; indicators taken from pasted text
by `extract`. What an indicator matches is `indicators.match`; the `search` verb is
`cli.search`, the `/seclogs` slash command is `slackapp`.

May import: `ingest` (the derived-output seam), `sinks`, `config`, `logtypes`,
`indicators`, `slack` (its mrkdwn escaping), foundations.
"""
