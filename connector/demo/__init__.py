"""`slack-connector demo`: the connector against a built-in Slack simulator, no Slack needed.

Shipped in the package (unlike the test fake) so a newcomer's first command works on any
machine: `simulator.py` plays Slack on 127.0.0.1 (its organisation and events in `org.py`,
Slack's response shapes and the HTTP handler in `api.py`), `command.py` runs the real
daemon at it.

May import: everything but `cli`.
"""
