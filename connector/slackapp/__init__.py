"""The Slack app: the `/seclogs` slash command and its dialogs. `slash_server` (the HTTP
listener: Slack's signature, the 3-second answer, late answers to `response_url`),
`slash_commands` (what each command does and says), `modals` and `interactions` (the
submit and report dialogs, opened and answered through `slack_web`, Slack's Web API).
Searches are `search`'s (run by whatever the daemon hands the server, e.g.
`search.worker`); watched indicators are `watchlist`'s.

May import: `watchlist`, `search`, `config`, `indicators`, `slack` (its mrkdwn escaping),
foundations.
"""
