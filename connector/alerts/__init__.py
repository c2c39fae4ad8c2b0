"""Alerts: what one is (`base`), how urgent and how destinations show it (`severity`),
the rules that raise and resolve them from poll outcomes (`rules`), and their delivery to
webhooks, Slack, PagerDuty and SNS (`destinations`, `dispatch`).

May import: `state`, `slack` (its mrkdwn escaping), foundations.
"""
