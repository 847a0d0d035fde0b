from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main


def test_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", f"sqlite+aiosqlite:///{tmp_path / 's.db'}"]
    assert main(["subscriptions", *db, "add", "--guild", "1", "--channel", "2", "--subsystem", "KVM: x86",
                 "--path", "arch/x86/kvm/*", "--title", "pir", "--kind", "series", "--no-rfc", "--fixes-only",
                 "--alert-channel", "3", "--alert-role", "4"]) == 0
    assert main(["subscriptions", *db, "add", "--guild", "1", "--channel", "5", "--no-threads", "--rfc"]) == 0
    capsys.readouterr()
    assert main(["subscriptions", *db, "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["channel_id"], r["threads"]) for r in rows] == [(1, 2, True), (2, 5, False)]
    assert rows[0]["filter"] == {
        "lists": [], "subsystems": ["KVM: x86"], "paths": ["arch/x86/kvm/*"], "authors": [],
        "title_words": ["pir"], "kinds": ["series"], "stable_only": False, "fixes_only": True, "rfc": False,
    }
    assert (rows[0]["alert_channel_id"], rows[0]["alert_role_id"], rows[1]["filter"]["rfc"]) == (3, 4, True)
    assert main(["subscriptions", *db, "remove", "1"]) == 0
    assert main(["subscriptions", *db, "remove", "1"]) == 1
    capsys.readouterr()
    main(["subscriptions", *db, "list"])
    assert capsys.readouterr().out == "#2 guild 1 channel 5 [cli, enabled] rfc-only no-threads\n"


def test_single_threads_and_backports_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", f"sqlite+aiosqlite:///{tmp_path / 's.db'}"]
    assert main(["subscriptions", *db, "add", "--guild", "1", "--channel", "2", "--single-threads",
                 "--kind", "backport"]) == 0
    capsys.readouterr()
    assert main(["subscriptions", *db, "list", "--json"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["threads"], row["single_threads"], row["filter"]["kinds"]) == (True, True, ["backport"])
    main(["subscriptions", *db, "list"])
    assert capsys.readouterr().out == "#1 guild 1 channel 2 [cli, enabled] kinds=backport single-threads\n"
