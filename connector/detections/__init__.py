"""Alert rules over the rows that land: Slack's own anomaly events (`anomaly`, with its
reasons in `reasons`, its burst grouping in `grouping`, trusted networks in `trusted`)
Slack's allow-list of trusted networks (`allowlist`), and Slack's lists of audit actions
and entity types, new ones and landed actions they lack (`catalog`). They see each page's new rows
through the pipeline's observers, beside the watchlist, and alert through `[alerts]`.

May import: `config`, `alerts`, `state`, `slack`, `indicators`, foundations.
"""
