"""Slack's Web and Audit Logs APIs as the connector meets them: the HTTP client with
retries and rate budgets (`client`, `ratelimit`), Slack's errors (`errors`), the
oauth.v2.access call (`oauth_access`), the token pair it returns (`tokenset`) and text
escaped for Slack's mrkdwn (`mrkdwn`).

May import: foundations.
"""
