"""Alert rules over the rows that land: Slack's own anomaly events (`anomaly`, with its
reasons in `reasons`, its burst grouping in `grouping`, trusted networks in `trusted`)
and Slack's allow-list of trusted networks (`allowlist`). They see each page's new rows
through the pipeline's observers, beside the watchlist, and alert through `[alerts]`.

May import: `config`, `alerts`, `state`, `slack`, `indicators`, foundations.
"""
