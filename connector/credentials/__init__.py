"""Which token a source polls with (`provider`): a static token from the environment, a
file, Secrets Manager or SSM, or an OAuth pair that rotates (`rotation`) through Slack's
refresh call (`refresh`). The pair's shape is `slack.tokenset`; where pairs are kept is
`state.token_store`; installing the app to get one is `oauth`.

May import: `config`, `state`, `slack`, foundations.
"""
