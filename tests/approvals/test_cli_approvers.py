"""``approvers keygen|add|list|remove`` as an operator runs them: outputs, exit statuses, and
refusals that change nothing."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.cli_runner import run_cli


def test_keygen_add_list_remove(database_url: str, tmp_path: Path) -> None:
    key = tmp_path / "carol.key"
    made = run_cli(database_url, "approvers", "keygen", "--out", str(key))
    assert made.status == 0, made.stderr
    assert made.json["public_key_file"] == f"{key}.pub"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "PRIVATE" not in made.stdout  # the private key is never printed

    again = run_cli(database_url, "approvers", "keygen", "--out", str(key))
    assert again.status == 6 and again.error["code"] == "ALREADY_EXISTS"

    add = ["approvers", "add", "--scope", "payouts", "--name", "carol"]
    added = run_cli(database_url, *add, "--public-key", f"{key}.pub")
    assert added.status == 0, added.stderr
    assert added.json["fingerprint"] == made.json["fingerprint"]
    private = run_cli(database_url, *add[:-1], "dave", "--public-key", str(key))
    assert private.status == 3 and private.error["code"] == "INVALID_KEY"
    unknown_app = run_cli(database_url, "approvers", "list", "--scope", "app:nothere")
    assert unknown_app.status == 5 and unknown_app.error["code"] == "APP_NOT_FOUND"
    bad_scope = run_cli(database_url, "approvers", "list", "--scope", "everything")
    assert bad_scope.status == 3

    listed = run_cli(database_url, "approvers", "list", "--scope", "payouts")
    assert [row["name"] for row in listed.json] == ["carol"]
    table = run_cli(database_url, "approvers", "list", output="table")
    assert "carol" in table.stdout and made.json["fingerprint"] in table.stdout

    remove = ["approvers", "remove", "--scope", "payouts", "--name", "carol"]
    unconfirmed = run_cli(database_url, *remove)
    assert unconfirmed.status == 2 and "--yes" in unconfirmed.error["message"]
    assert len(run_cli(database_url, "approvers", "list").json) == 1
    removed = run_cli(database_url, *remove, "--yes")
    assert removed.status == 0, removed.stderr
    assert removed.json["removed"] is True and removed.json["voided_subjects"] == []
    assert run_cli(database_url, "approvers", "list").json == []
    gone = run_cli(database_url, *remove, "--yes")
    assert gone.status == 5 and gone.error["code"] == "APPROVER_NOT_FOUND"


def test_hostile_input_is_refused_and_changes_nothing(database_url: str, tmp_path: Path) -> None:
    key = tmp_path / "k"
    assert run_cli(database_url, "approvers", "keygen", "--out", str(key)).status == 0
    add = ["approvers", "add", "--scope", "payouts"]
    for name in ["x" * 101, "carol\n", "cärol", "carol\x00", "-carol", "car ol"]:
        result = run_cli(database_url, *add, "--name", name, "--public-key", f"{key}.pub")
        assert result.status in (2, 3), (name, result.stderr)
    for scope in ["app:", "app:" + "q" * 200, "payouts ", "PAYOUTS", "app:a:b"]:
        result = run_cli(database_url, "approvers", "list", "--scope", scope)
        assert result.status == 3, (scope, result.stderr)
    for public_key in ["/dev/zero", str(tmp_path / "missing.pub"), str(tmp_path)]:
        result = run_cli(database_url, *add, "--name", "carol", "--public-key", public_key)
        assert result.status == 3 and result.error["code"] == "INVALID_KEY", result.stderr
    assert run_cli(database_url, "approvers", "list").json == []
