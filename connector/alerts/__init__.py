"""Alerts: rules that watch each source and log type, and destinations that page on-call."""
