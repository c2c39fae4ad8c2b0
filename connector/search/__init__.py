"""Analyst search over what landed (`query`, `partitions`, `render`), answered from the
index written beside each object (`index`, a derived output of `ingest`; queried in SQL
by `lookup`) where there is one and by a scan where not, the `/seclogs` slash
command (`slash_commands`, `slash_server`), and the watchlist that alerts on indicators as
rows land (`watchlist`). What an indicator matches is `indicators.match`; the `search`
verb is `cli.search`.

May import: `ingest` (the derived-output seam), `sinks`, `config`, `alerts`, `state`,
`logtypes`, `indicators`, `slack` (its mrkdwn escaping), foundations.
"""
