"""`hailong month report` and `hailong year report`, on a parser of our own (collector/cli/main.py
wires them)."""

from __future__ import annotations

import argparse
import json
import sys

import openpyxl
import pytest

from collector.cli.common import UsageError
from collector.cli.month import add_month_commands
from conftest import ROOT
import test_monthly
from test_monthly import MONTH

world = test_monthly.world  # the shared fixture


def run(argv: list[str]) -> int:
    """What `collector.cli.main.main` does with a handler: UsageError → one line, exit 2."""
    parser = argparse.ArgumentParser(prog="hailong")
    add_month_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as error:
        print(f"hailong {args.command}: {error}", file=sys.stderr)
        return 2


def test_month_report_json_for_the_whole_tree(world, tmp_path, capsys):
    out = tmp_path / "march.json"
    assert run(["month", "report", "--month", MONTH, "--db", str(world), "--policy",
                "decree-335", "--format", "json", "--out", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    # One report per root unit (here only hk), each what the API returns for it.
    assert (report["month"], report["policy"]) == (MONTH, "decree-335")
    assert [unit["unit"]["id"] for unit in report["units"]] == ["hk"]
    unit = report["units"][0]
    assert {"unit", "month", "policy", "generated_at", "sub_units", "officers", "quota",
            "quota_final", "progress"} <= set(unit)
    a = next(row for row in unit["officers"] if row["officer_id"] == "HK-A")
    assert (a["satisfaction"]["ratings"], a["tasks"]["quantity"]) == (40, 80.0)
    assert "1 đơn vị / unit(s), 7 cán bộ / officers" in capsys.readouterr().out


def test_month_report_json_is_one_compact_utf8_line(world, tmp_path, capsys):
    # A province's report is 170 MB: compact, names in UTF-8 (not \u escapes), one line
    # ending in a newline, to a file and to standard output alike.
    out = tmp_path / "march.json"
    assert run(["month", "report", "--month", MONTH, "--db", str(world), "--out",
                str(out)]) == 0
    written = out.read_bytes()
    compact = json.dumps(json.loads(written), ensure_ascii=False, separators=(",", ":"))
    assert written == compact.encode("utf-8") + b"\n"
    assert "Hoàn Kiếm".encode() in written
    capsys.readouterr()
    assert run(["month", "report", "--month", MONTH, "--db", str(world), "--out", "-"]) == 0
    printed = capsys.readouterr().out.encode("utf-8")
    def units(document: bytes) -> list:
        return [{**unit, "generated_at": None} for unit in json.loads(document)["units"]]
    assert units(printed) == units(written)
    assert printed.endswith(b"\n") and printed.count(b"\n") == 1


def test_month_report_xlsx_for_one_unit(world, tmp_path):
    out = tmp_path / "march.xlsx"
    assert run(["month", "report", "--month", MONTH, "--unit", "hk-1c", "--db", str(world),
                "--format", "xlsx", "--out", str(out)]) == 0
    sheet = openpyxl.load_workbook(out)["Tháng 2026-03"]
    assert "hk-1c" in sheet["A2"].value


def test_year_report_to_stdout(world, capsys):
    assert run(["year", "report", "--year", "2026", "--unit", "hk-1c", "--db", str(world),
                "--out", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["year"] == 2026 and report["units"][0]["unit"]["id"] == "hk-1c"


@pytest.mark.parametrize("argv, message", [
    (["month", "report", "--month", MONTH, "--unit", "nowhere", "--out", "{tmp}/x.json"],
     "No unit 'nowhere'"),
    (["month", "report", "--month", MONTH, "--policy", "decree-999", "--out", "{tmp}/x.json"],
     "unknown policy preset"),
    (["month", "report", "--month", MONTH, "--out", "{tmp}/missing/dir/x.json"],
     "cannot write"),
    (["month", "report", "--month", MONTH, "--format", "xlsx", "--out", "-"],
     "needs a file"),
    (["year", "report", "--year", "2026", "--db", "{tmp}/none.db", "--out", "{tmp}/x.json"],
     "no database at"),
])
def test_user_errors_are_one_line_and_exit_2(world, tmp_path, capsys, argv, message):
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    if "--db" not in argv:
        argv += ["--db", str(world)]
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [
    ["month", "report", "--month", "2026-3", "--out", "x"],
    ["year", "report", "--year", "26", "--out", "x"],
    ["month", "report", "--month", MONTH],  # --out is required
])
def test_malformed_options_are_refused_by_the_parser(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_policy_from_a_toml_file(world, tmp_path):
    policy = tmp_path / "phuong.toml"
    policy.write_text((ROOT / "collector/evaluation/policies/decree-335.toml").read_text(encoding="utf-8")
                      .replace('name = "decree-335"', 'name = "phuong"'), encoding="utf-8")
    out = tmp_path / "march.json"
    assert run(["month", "report", "--month", MONTH, "--unit", "hk-1c", "--db", str(world),
                "--policy", str(policy), "--out", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["policy"] == report["units"][0]["policy"]["name"] == "phuong"
