"""Slack's classic paging limits (`count` at most 1000, `page` at most 100).

Read as `limits.MAX_PAGE` at call time, not imported by value, so the property tests can
run a scaled-down Slack (a cap of a few pages of a few rows) through the same code.
"""

MAX_PAGE = 100
MAX_COUNT = 1000
