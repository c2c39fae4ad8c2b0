"""The watchlist: analysts' indicators, matched against rows as they land, alerting on a
match. `watchlist` (the lists in force: the config's, its file's and those added from
Slack, kept in the state store, and the rate limit), `watchset` (one Aho-Corasick pass
over a written page, then `Indicator.matches`), `alert` (the `watchlist_match` alert),
`provenance` (where each watched indicator came from) and `watched` (that provenance as a
search's summary shows it). What an indicator matches is `indicators.match`.

May import: `search` (its summary and row rendering), `config`, `alerts`, `state`,
`indicators`, foundations.
"""
