"""Analyst search over what landed (`query`, `partitions`, `render`), the `/seclogs` slash
command (`slash_commands`, `slash_server`), and the watchlist that alerts on indicators as
rows land (`watchlist`). What an indicator matches is `indicators.match`; the `search`
verb is `cli.search`.

May import: `config`, `alerts`, `state`, `logtypes`, `indicators`, `slack` (its mrkdwn
escaping), foundations.
"""
