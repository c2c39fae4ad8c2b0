"""Crash tests: SIGKILL the daemon at random and chosen instants, then check exactly-once."""
