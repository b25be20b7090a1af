"""`hailong evaluation status`: who is late at which step of a unit's month, on the command line.

Read-only, like `hailong audit list`: it opens the database read-only and prints the same
data as GET /api/v1/units/{unit}/evaluations/{month}/status (a table, or JSON), with the quota
on the top grade under the table, one line per group of similar posts. The steps
themselves are taken through the API, which knows who is acting. Wired into the main parser
with `add_workflow_commands(subparsers)`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from collector.cli.common import (
    UsageError,
    add_policy_option,
    checked_policy,
    open_database,
    print_json,
    table,
)
from collector.evaluation.policy import load_configured
from collector.evaluation.workflow.steps import WorkflowError, local_today
from collector.evaluation.workflow.status import unit_evaluation_status

STAGES_VI = {"not_started": "chưa bắt đầu", "self_done": "đã tự đánh giá",
             "reviewed": "lãnh đạo đã nhận xét", "decided": "thủ trưởng đã quyết định"}
STEPS_VI = {"self": "tự đánh giá", "review": "nhận xét của lãnh đạo",
            "decision": "quyết định của thủ trưởng"}


def cmd_status(args: argparse.Namespace) -> int:
    policy = load_configured(checked_policy(args.policy))
    with open_database(args.db) as db:
        try:
            status = unit_evaluation_status(db, policy, args.unit, args.month, local_today())
        except WorkflowError as error:
            raise UsageError(str(error)) from None
    if args.json:
        print_json(status)
        return 0
    rows = [["Cán bộ / officer", "Giai đoạn / stage", "Chờ / awaiting", "Trễ hạn / late"]]
    for officer in status["officers"]:
        awaiting = ", ".join(f"{STEPS_VI[a['step']]} ({a['by'] or '—'})"
                             for a in officer["awaiting"])
        late = ", ".join(STEPS_VI[step] for step in officer["late_steps"])
        rows.append([f"{officer['officer_id']} {officer['name']}",
                     STAGES_VI[officer["stage"]], awaiting or "—", late or "—"])
    print(table(rows))
    print(quota_text(status))
    return 0


def quota_text(status: dict) -> str:
    """The quota under the table: the unit's line, or with several groups of similar posts
    one line per group (Decree 335/2025 counts the cap within each), Vietnamese then English;
    the default group's text is named ("Cả đơn vị"), a named group's names it already."""
    groups = status.get("quotas") or []
    if len(groups) < 2:
        return f"{status['quota']['vi']}\n{status['quota']['en']}"
    lines = ["Tỷ lệ xếp loại theo nhóm vị trí việc làm tương đồng / "
             "Quota per group of similar posts:"]
    for quota in groups:
        vi, en = quota["vi"], quota["en"]
        if quota["post_group"] is None:
            vi, en = f"{quota['label_vi']}: {vi}", f"{quota['label_en']}: {en}"
        lines += [f"- {vi}", f"  {en}"]
    return "\n".join(lines)


def add_workflow_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `evaluation status`."""
    parser = subparsers.add_parser("evaluation", help="the monthly evaluation workflow: status")
    actions = parser.add_subparsers(dest="evaluation_command", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="who is late at which step of a unit's month")
    status.add_argument("--db", type=Path, default=Path("hailong.db"),
                        help="the collector's SQLite file (default: hailong.db)")
    status.add_argument("--unit", required=True, help="unit id; its sub-units are included")
    status.add_argument("--month", required=True, metavar="YYYY-MM")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_policy_option(status)
    status.set_defaults(handler=cmd_status)
