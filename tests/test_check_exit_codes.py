"""`slack-connector check` on configuration that cannot be resolved: a token or alert URL
from an unset variable, a token file that is missing, a directory or unreadable. Each is a
configuration error: exit 2, the field named, and no secret of the config in the output.

The real CLI runs in a subprocess per case, with the environment the case sets up.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOOD_TOKEN = "xoxp-i19b-good-0123456789-abcdefabcdef"
FILE_TOKEN = "xoxp-i19b-in-unreadable-file-9876543210"
HOOK_SECRET = "T000HOOK/B000HOOK/i19bHookSecretPart42"
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def _source(i: int, token: str) -> str:
    return f"""
[[sources]]
id = "s{i}"
{token}
log_types = ["audit"]
audit_api_url = "http://127.0.0.1:9/audit/v1/"
web_api_url = "http://127.0.0.1:9/api/"
"""


def _config(tmp_path: Path, bad_token: str | None, alert_env: str = "I19B_HOOK") -> Path:
    """A good source and a good alert destination, whose secrets must stay unprinted,
    plus the bad token of the case (if any)."""
    text = f"""
[state]
path = "{tmp_path}/var/state.db"

[output]
type = "local"
path = "{tmp_path}/out"

[[alerts.destinations]]
type = "slack_webhook"
url = {{ env = "{alert_env}" }}

[[alerts.destinations]]
type = "webhook"
url = {{ env = "I19B_HOOK" }}
authorization = {{ env = "I19B_TOKEN" }}
{_source(0, 'token_env = "I19B_TOKEN"')}
"""
    if bad_token:
        text += _source(1, bad_token)
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def _without_dac_override() -> None:
    """Root reads any file; without these capabilities it gets EACCES like anyone."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _check(
    path: Path, preexec: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("I19B_", "SLACK_CONNECTOR__"))}
    env |= {"I19B_TOKEN": GOOD_TOKEN, "I19B_HOOK": f"https://127.0.0.1:9/services/{HOOK_SECRET}"}
    return subprocess.run(
        [sys.executable, "-m", "connector.cli.main", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=ROOT,
        preexec_fn=preexec,
    )


def _assert_config_error(proc: subprocess.CompletedProcess[str], field: str, problem: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"FAIL secret {field}: {problem}" in proc.stdout
    assert f"slack-connector: config error: {field}: {problem}" in proc.stderr
    assert "Traceback" not in proc.stderr
    printed = proc.stdout + proc.stderr
    for secret in (GOOD_TOKEN, FILE_TOKEN, HOOK_SECRET, *HOOK_SECRET.split("/")):
        assert secret not in printed


def test_token_env_naming_an_unset_variable(tmp_path: Path) -> None:
    proc = _check(_config(tmp_path, 'token_env = "I19B_UNSET_TOKEN"'))
    _assert_config_error(proc, "sources[1].token_env", "variable I19B_UNSET_TOKEN is not set")
    assert "FAIL source s1: not called: sources[1].token_env cannot be read" in proc.stdout
    assert "source s0 audit" in proc.stdout, "the good source is still checked"


def test_token_file_missing(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-token"
    proc = _check(_config(tmp_path, f'token_file = "{missing}"'))
    _assert_config_error(
        proc, "sources[1].token_file", f"cannot read {missing} (No such file or directory)"
    )


def test_token_file_is_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    folder.mkdir()
    proc = _check(_config(tmp_path, f'token_file = "{folder}"'))
    _assert_config_error(proc, "sources[1].token_file", f"cannot read {folder} (Is a directory)")


def test_token_file_unreadable(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text(FILE_TOKEN)
    secret.chmod(0)
    preexec = _without_dac_override if os.geteuid() == 0 else None
    try:
        proc = _check(_config(tmp_path, f'token_file = "{secret}"'), preexec)
    except subprocess.SubprocessError as exc:  # no CAP_SETPCAP: root cannot be denied
        pytest.skip(f"cannot make a file unreadable to this user: {exc}")
    _assert_config_error(proc, "sources[1].token_file", f"cannot read {secret} (Permission denied)")


def test_alert_webhook_url_from_an_unset_variable(tmp_path: Path) -> None:
    proc = _check(_config(tmp_path, None, alert_env="I19B_UNSET_HOOK"))
    _assert_config_error(
        proc, "alerts.destinations[0].url", "environment variable I19B_UNSET_HOOK is not set"
    )


def test_a_source_slack_refuses_is_still_exit_1(tmp_path: Path) -> None:
    """Not a configuration error: Slack (here nothing) did not answer."""
    proc = _check(_config(tmp_path, None))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL source s0 audit" in proc.stdout and "config error" not in proc.stderr
    assert GOOD_TOKEN not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "lines, code",
    [
        ([], 0),
        ([(True, None)], 0),
        ([(False, None)], 1),
        ([(False, None), (False, "sources[0].token")], 2),
        ([(True, "x")], 0),
    ],
)
def test_exit_code(lines: list[tuple[bool, str | None]], code: int) -> None:
    from connector.cli.check import Line, exit_code

    assert exit_code(Line("n", ok, "d", field) for ok, field in lines) == code
