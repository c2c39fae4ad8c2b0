"""Alerts: what one is (`base`), the rules that raise and resolve them from poll outcomes
(`rules`), and their delivery to webhooks, Slack, PagerDuty and SNS (`destinations`,
`dispatch`).

May import: `state`, `slack` (its mrkdwn escaping), foundations.
"""
