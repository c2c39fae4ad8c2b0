"""Slack's Web and Audit Logs APIs as the connector meets them: the HTTP client with
retries and rate budgets (`client`, `ratelimit`), Slack's errors (`errors`), the
oauth.v2.access call (`oauth_access`), the token pair it returns (`tokenset`), text
escaped for Slack's mrkdwn (`mrkdwn`), the Audit Logs API's lists of actions and entity
types (`catalog`) and an organisation's workspaces (`teams`).

May import: foundations.
"""
