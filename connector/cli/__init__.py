"""`slack-connector`'s command line: `parser` declares every command and option,
`main` dispatches to one module per verb (`run`, `once`, `check`, `state`, `backfill`,
`auth`, `search`, `watchlist`; `demo` is `connector.demo`), and every line printed goes
through `output.say`, which scrubs secrets.

May import: anything.
"""
