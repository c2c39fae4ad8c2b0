"""Whether a token can poll the log types it is for, and what to do when it cannot.

Which scopes and which kind of install a log type needs is declared on its class
(`LogType.scopes`, `LogType.enterprise_install`); this module only reads them.
"""

from __future__ import annotations

from collections.abc import Iterable

from connector.logtypes import REGISTRY
from connector.oauth.authorize import user_scopes
from connector.oauth.errors import OAuthError
from connector.slack.tokenset import TokenSet

# What the operator must do when a scope is missing, by scope.
_SCOPE_HELP = {
    "auditlogs:read": (
        "add auditlogs:read under OAuth & Permissions > User Token Scopes, activate public "
        "distribution, then install the app on the organization (Enterprise Grid) as the "
        "org owner, not on a single workspace"
    ),
    "admin.teams:read": (
        "add admin.teams:read under OAuth & Permissions > User Token Scopes (team_ids = "
        '"all" lists the workspaces with admin.teams.list), then install the app on the '
        "organization again as the org owner"
    ),
    "admin": (
        "add admin under OAuth & Permissions > User Token Scopes, then reinstall the app "
        "on the workspace as an owner (team.accessLogs and team.integrationLogs need a "
        "paid plan)"
    ),
}


WORKSPACE_LIST = "admin.teams:read"


def workspace_scopes(team_ids: object) -> list[str]:
    """What an Enterprise Grid source needs besides its log types' scopes: with
    `team_ids = "all"` the workspaces are listed with `admin.teams.list`. A list of
    workspaces is never listed, so it asks for nothing more (least privilege)."""
    return [WORKSPACE_LIST] if team_ids == "all" else []


def check_token(
    token_set: TokenSet, log_types: Iterable[str], extra_scopes: Iterable[str] = ()
) -> None:
    """Refuse a token that cannot poll `log_types`: a bot token, a missing scope, or an
    audit token from a workspace (not organization) install. The message says what to do."""
    log_types = list(log_types)
    extra = sorted(set(extra_scopes))
    if token_set.is_bot:
        raise OAuthError(
            "got a bot token, but the Audit Logs API and team.accessLogs/integrationLogs "
            "need a user token: put the scopes under OAuth & Permissions > User Token Scopes "
            "(not Bot Token Scopes) and run the install again",
            code="bot_token",
        )
    needed = sorted({*user_scopes(log_types), *extra})
    granted = set(token_set.scopes)
    missing = [s for s in needed if s not in granted]
    if missing:
        by_scope = sorted({lt for lt in log_types for s in REGISTRY[lt].scopes if s in missing})
        by_scope += ["the workspace list"] if set(missing) & set(extra) else []
        steps = "; ".join(_SCOPE_HELP.get(s, f"add {s} under User Token Scopes") for s in missing)
        raise OAuthError(
            f"the token is missing scope(s) {', '.join(missing)} needed for "
            f"{', '.join(by_scope)} logs (granted: {', '.join(sorted(granted)) or 'none'}). "
            f"To fix: {steps}.",
            code="missing_scope",
        )
    org_only = sorted(lt for lt in log_types if REGISTRY[lt].enterprise_install)
    if org_only and not token_set.is_enterprise_install:
        raise OAuthError(
            f"{', '.join(org_only)} logs need the app installed on the organization "
            "(Enterprise Grid), but "
            "it was installed on a single workspace: install the app on the organization "
            "as the org owner and run the install again",
            code="not_enterprise_install",
        )


def enterprise_only(log_types: Iterable[str]) -> bool:
    """Whether any of these log types needs an organization-level install."""
    return any(REGISTRY[lt].enterprise_install for lt in log_types)
