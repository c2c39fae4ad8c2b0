"""Which OCSF class and activity each Slack audit action lands in: one row per action
family, first match wins (`docs/ocsf.md` is this table in prose).

Slack names actions `<thing>_<verb>` (`user_login`, `file_shared`, `channel_created`) or
`pref.<setting>`; a family is an exact list of actions, or a test on the name for
families Slack keeps adding to (settings, channel lifecycle, user-group membership).
An action no family claims becomes a Base Event with the action named.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Family:
    name: str
    cls: str
    activity: tuple[int, str]
    match: Callable[[str], bool]
    status: int | None = 1


def exact(*actions: str) -> Callable[[str], bool]:
    names = frozenset(actions)
    return names.__contains__


def pattern(regex: str) -> Callable[[str], bool]:
    compiled = re.compile(regex)
    return lambda action: compiled.search(action) is not None


LOGON, LOGOFF = (1, "Logon"), (2, "Logoff")
CREATE, UPDATE, DELETE = (1, "Create"), (3, "Update"), (4, "Delete")
SETTINGS = r"^pref\.|sso|saml|dlp|ekm|legal_hold|retention|barrier|policy|allowlist"

FAMILIES = [
    Family("login", "authentication", LOGON, exact("user_login")),
    Family("failed login", "authentication", LOGON, exact("user_login_failed"), status=2),
    Family("logout", "authentication", LOGOFF, exact("user_logout")),
    Family(
        "session reset",
        "authentication",
        LOGOFF,
        exact("user_session_reset_by_admin", "user_session_invalidated", "session_reset"),
    ),
    Family(
        "account created", "account_change", (1, "Create"), exact("user_created", "guest_created")
    ),
    Family(
        "account disabled",
        "account_change",
        (5, "Disable"),
        exact("user_deactivated", "guest_deactivated", "guest_expired"),
    ),
    Family(
        "account enabled",
        "account_change",
        (2, "Enable"),
        exact("user_reactivated", "guest_reactivated"),
    ),
    Family("account deleted", "account_change", (6, "Delete"), exact("user_deleted")),
    Family(
        "2FA enabled",
        "account_change",
        (10, "MFA Factor Enable"),
        pattern(r"^(user_)?(2fa|two_factor_auth)_(enabled|added)$"),
    ),
    Family(
        "2FA disabled",
        "account_change",
        (11, "MFA Factor Disable"),
        pattern(r"^(user_)?(2fa|two_factor_auth)_(disabled|removed|reset)$"),
    ),
    Family(
        "email changed",
        "account_change",
        (99, "Email Change"),
        exact("user_email_updated", "user_email_changed", "email_updated"),
    ),
    Family(
        "role assigned",
        "user_access",
        (1, "Assign Privileges"),
        pattern(r"^role_change_to_|^role_assigned$|^owner_transferred$"),
    ),
    Family("role removed", "user_access", (2, "Revoke Privileges"), exact("role_removed")),
    Family(
        "app scopes granted",
        "user_access",
        (1, "Assign Privileges"),
        exact(
            "app_scopes_expanded",
            "app_resources_granted",
            "app_installed",
            "app_approved",
            "bot_token_upgraded",
            "org_app_upgraded_to_org_install",
            "app_resources_added",
        ),
    ),
    Family(
        "app scopes revoked",
        "user_access",
        (2, "Revoke Privileges"),
        exact("app_uninstalled", "app_removed", "app_restricted", "app_resources_removed"),
    ),
    Family(
        "user-group member added",
        "group_management",
        (3, "Add User"),
        pattern(r"^user_added_to_usergroup$|^usergroup_member_added$"),
    ),
    Family(
        "user-group member removed",
        "group_management",
        (4, "Remove User"),
        pattern(r"^user_removed_from_usergroup$|^usergroup_member_removed$"),
    ),
    Family(
        "channel member added",
        "group_management",
        (3, "Add User"),
        exact("user_channel_join", "guest_channel_added", "channel_member_added"),
    ),
    Family(
        "channel member removed",
        "group_management",
        (4, "Remove User"),
        exact("user_channel_leave", "guest_channel_removed", "channel_member_removed"),
    ),
    Family("file uploaded", "file_hosting", (1, "Upload"), exact("file_uploaded")),
    Family("file downloaded", "file_hosting", (2, "Download"), exact("file_downloaded")),
    Family(
        "file download blocked",
        "file_hosting",
        (2, "Download"),
        exact("file_downloaded_blocked"),
        status=2,
    ),
    Family(
        "file shared",
        "file_hosting",
        (12, "Share"),
        exact("file_shared", "file_public_link_created"),
    ),
    Family("file unshared", "file_hosting", (13, "Unshare"), exact("file_public_link_revoked")),
    Family("file deleted", "file_hosting", (4, "Delete"), exact("file_deleted")),
    Family("anomaly", "detection_finding", (1, "Create"), exact("anomaly")),
    Family(
        "setting or policy created",
        "entity_management",
        CREATE,
        pattern(rf"(?:{SETTINGS}).*_(created|added|enabled)$"),
    ),
    Family(
        "setting or policy deleted",
        "entity_management",
        DELETE,
        pattern(rf"(?:{SETTINGS}).*_(deleted|removed)$"),
    ),
    Family("setting or policy changed", "entity_management", UPDATE, pattern(SETTINGS)),
    Family(
        "channel created",
        "entity_management",
        CREATE,
        pattern(r"^(private_|public_|shared_)?channel_created$"),
    ),
    Family(
        "channel deleted",
        "entity_management",
        DELETE,
        pattern(r"^(private_|public_)?channel_deleted$"),
    ),
    Family(
        "channel changed",
        "entity_management",
        UPDATE,
        pattern(r"^(private_|public_|shared_)?channel_[a-z_]+$|^mpim_converted_to_private$"),
    ),
    Family("workspace created", "entity_management", CREATE, exact("workspace_created")),
    Family("workspace deleted", "entity_management", DELETE, exact("workspace_deleted")),
]
"""First match wins: the membership families come before the channel lifecycle, the
settings families before the generic channel rule."""

BASE = Family("anything else", "base_event", (99, "Other"), lambda action: True, status=None)


@lru_cache(maxsize=4096)
def family(action: str) -> Family:
    """Cached: a few hundred actions recur millions of times in a backfill."""
    for candidate in FAMILIES:
        if candidate.match(action):
            return candidate
    return BASE
