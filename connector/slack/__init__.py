"""HTTP access to Slack's Audit Logs API and Web API."""
