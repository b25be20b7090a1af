"""The `hailong` command line: documented subcommands and one-line errors."""

from __future__ import annotations

import pytest

from collector.cli.main import build_parser, main
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def subcommands() -> list[str]:
    parser = build_parser()
    return sorted(parser._subparsers._group_actions[0].choices)


def test_there_are_subcommands():
    assert {"demo", "serve", "kiosk"} <= set(subcommands())


@pytest.mark.parametrize("command", subcommands())
def test_every_subcommand_is_in_the_readme(command):
    assert f"hailong {command}" in README


@pytest.mark.parametrize("argv, message", [
    (["demo", "--devices", "9", "--db", "{tmp}/x.db", "--mqtt-port", "1"], "1 to 8 devices"),
    (["serve", "--broker", "http://example:1"], "mqtt://HOST:PORT"),
    (["kiosk", "Bad_ID", "--press", "1", "--timeout", "0.5"], "bad device id"),
    (["serve", "--db", "{tmp}/x.db", "--policy", "hanoi-2018"], "unknown policy preset"),
    (["demo", "--db", "{tmp}/x.db", "--policy", "{tmp}/none.toml"], "cannot read the policy"),
])
def test_user_errors_are_one_line_and_exit_2(argv, message, tmp_path, capsys):
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["demo", "--http", "nowhere"], ["demo", "--for", "-1"]])
def test_malformed_options_are_refused_by_the_parser(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def device_actions() -> list[str]:
    devices = build_parser()._subparsers._group_actions[0].choices["devices"]
    return sorted(devices._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("action", device_actions())
def test_every_devices_action_is_in_the_readme(action):
    assert f"hailong devices {action} " in README


def test_placed_from_is_documented_for_add_and_move():
    for action in ("add", "move"):
        line = next(line for line in README.splitlines()
                    if line.startswith(f"hailong devices {action} "))
        assert "[--placed-from YYYY-MM-DD]" in line
