"""Indicators of compromise: which IPs, emails and user names a record carries (`extract`,
the `p_any_*` fields, from the fields a schema marks), and what an analyst's indicator
means and whether a landed row matches it (`match`, with every spelling of an IP address
in `spellings`), shared by search, the slash command and the watchlist.

May import: foundations.
"""
