"""Proactive rate budgets: sources of one organisation share one budget, and a burst
beyond it is spaced out instead of being answered with 429 by Slack."""

from __future__ import annotations

from freezegun import freeze_time

from connector.slack.ratelimit import RateBudgets, TokenBucket


def test_bucket_allows_a_burst_then_spaces_calls_to_the_rate() -> None:
    with freeze_time("2026-11-23 00:00:00") as frozen:
        bucket = TokenBucket(per_minute=65, burst=5)
        waits = [bucket.reserve() for _ in range(8)]
        assert waits[:5] == [0.0] * 5
        assert waits[5:] == [1.0, 2.0, 3.0]
        frozen.tick(10)
        assert bucket.reserve() == 0.0


def test_sources_with_the_same_organisation_share_a_budget() -> None:
    budgets = RateBudgets()
    a = budgets.bucket("org:E1", "audit", 50)
    assert budgets.bucket("org:E1", "audit", 50) is a
    assert budgets.bucket("org:E2", "audit", 50) is not a
    assert budgets.bucket("org:E1", "team.accessLogs", 20) is not a


def test_steady_state_stays_inside_the_audit_tier() -> None:
    """Three sources of one org wanting 75 audit calls a minute get at most 50 in any minute."""
    with freeze_time("2026-11-23 00:00:00") as frozen:
        budgets = RateBudgets()
        bucket = budgets.bucket("org:E1", "audit", 50)
        calls: list[float] = []
        clock = 0.0
        for _minute in range(60):
            for _source in range(3):
                for _page in range(25):
                    wait = bucket.reserve()
                    clock += wait
                    frozen.tick(wait)
                    calls.append(clock)
            frozen.tick(60)
            clock += 60
        worst = max(sum(1 for c in calls if start <= c < start + 60) for start in calls)
        assert worst <= 50
