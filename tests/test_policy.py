"""Scoring policy files: the presets carry the domain brief's numbers; a bad file names its key."""

import copy
import re
import tomllib

import pytest

from collector.evaluation import policy as pol


def preset_data(name):
    with (pol.PRESETS_DIR / f"{name}.toml").open("rb") as f:
        return tomllib.load(f)


def test_presets_are_found_next_to_the_module():
    assert pol.preset_names() == ["decree-335", "hanoi-3814"]


def test_hanoi_3814_carries_the_decision_numbers():
    p = pol.load_preset("hanoi-3814")
    assert {c.code: c.points for c in p.criteria} == {
        "discipline_ethics": 20, "task_results": 70, "bonus": 10}
    assert p.bands == (("HTXSNV", 90), ("HTTNV", 70), ("HTNV", 50), ("KHTNV", 0))
    assert p.letters == {"HTXSNV": "A", "HTTNV": "B", "HTNV": "C", "KHTNV": "D"}
    assert (p.quota.share, p.quota.share_outstanding) == (0.30, 0.40)
    assert set(p.quota.of_grades) == set(pol.GRADE_CODES)
    assert p.satisfaction.criterion == "discipline_ethics"


def test_decree_335_carries_the_decree_numbers():
    p = pol.load_preset("decree-335")
    general = [c for c in p.criteria if c.source == "leader"]
    assert sum(c.points for c in general) == 30
    assert {c.code for c in general} == {
        "politics_ethics", "discipline", "service_attitude", "innovation"}
    assert p.criterion("task_results").points == 70
    assert p.satisfaction.criterion == "service_attitude"
    assert (p.tasks.major_error_penalty, p.tasks.delay_penalty) == (0.25, 0.25)
    assert p.discipline_grade == "KHTNV"
    assert (p.quota.share, p.quota.of_grades, p.quota.share_outstanding) == (0.20, ("HTTNV",), None)


def _set(path, value):
    def mutate(d):
        *parents, last = path
        for key in parents:
            d = d[key]
        if value is DELETE:
            del d[last]
        else:
            d[last] = value
    return mutate


DELETE = object()


@pytest.mark.parametrize("mutate, key", [
    (_set(("policy", "max_score"), DELETE), "policy.max_score"),
    (_set(("policy", "decimals"), "2"), "policy.decimals"),
    (_set(("grades", "HTTNV"), 95), "grades.HTXSNV"),
    (_set(("grades", "KHTNV"), 10), "grades.KHTNV"),
    (_set(("grades", "HTNV"), 120), "grades.HTNV"),
    (_set(("criteria", 1, "points"), 60), "criteria points add up to 90"),
    (_set(("criteria", 0, "source"), "citizens"), "criteria[0].source"),
    (_set(("criteria", 0, "pionts"), 1), "criteria[0].pionts"),
    (_set(("criteria", 2, "code"), "discipline_ethics"), "criteria codes must be unique"),
    (_set(("satisfaction", "weight"), 1.5), "satisfaction.weight"),
    (_set(("satisfaction", "criterion"), "attitude"), "satisfaction.criterion"),
    (_set(("satisfaction", "criterion"), "task_results"), "satisfaction.criterion"),
    (_set(("satisfaction", "measure"), "mean"), "satisfaction.measure"),
    (_set(("satisfaction", "min_ratings"), 0), "satisfaction.min_ratings"),
    (_set(("satisfaction", "full_at"), 0.0), "satisfaction.full_at"),
    (_set(("tasks", "delay_penalty"), -0.25), "tasks.delay_penalty"),
    (_set(("tasks", "quality_weight"), True), "tasks.quality_weight"),
    (_set(("quota", "share_outstandng"), 0.4), "quota.share_outstandng"),
    (_set(("quota", "of_grades"), ["B"]), "quota.of_grades"),
    (_set(("quota", "rounding"), "nearest"), "quota.rounding"),
    (_set(("letters", "X"), "E"), "letters.X"),
    (_set(("policy", "discipline_grade"), "D"), "policy.discipline_grade"),
    (_set(("scores",), {}), "unknown key scores"),
    (_set(("policy", "period"), "week"), "policy.period"),
    (_set(("decision", "final_score"), "typed"), "decision.final_score"),
    (_set(("year", "apply_quota"), "yes"), "year.apply_quota"),
    (_set(("year", "quota"), True), "unknown key year.quota"),
    (_set(("offline", "alert_minutes"), 0), "offline.alert_minutes"),
    (_set(("offline", "coverage_below"), 1.2), "offline.coverage_below"),
    (_set(("offline", "attitude_reason"), 1), "offline.attitude_reason"),
    (_set(("unit_score", "criterion"), "service_attitude"), "unit_score.criterion"),
    (_set(("unit_score", "weight"), 0), "unit_score.weight"),
    (_set(("unit_score", "not_completed"), ["D"]), "unit_score.not_completed"),
    (_set(("unit_score", "all_completed"), 0.4), "unit_score.any_not_completed"),
    (_set(("unit_score", "all_completed"), DELETE), "unit_score.all_completed"),
])
def test_bad_policy_names_the_key(mutate, key):
    # 3814's layout for the older keys; the unit score is Decree 335's alone.
    data = copy.deepcopy(preset_data("decree-335" if key.startswith("unit_score")
                                     else "hanoi-3814"))
    mutate(data)
    with pytest.raises(ValueError, match=key.replace("[", r"\[").replace("]", r"\]")):
        pol.parse_policy(data)


def test_the_issue_12_rules_are_read_from_the_presets():
    decree, hanoi = pol.load_preset("decree-335"), pol.load_preset("hanoi-3814")
    assert (decree.period, hanoi.period) == ("month", "month")
    assert decree.unit_score == pol.UnitScoreRule(
        criterion="task_results", weight=0.5, all_completed=1.0, any_not_completed=0.5,
        not_completed=("KHTNV",))
    assert hanoi.unit_score is None  # 3814 scores no leader on their unit
    for p in (decree, hanoi):
        assert p.decision.final_score == "clamp"
        assert p.year.apply_quota is True
        assert (p.offline.alert_minutes, p.offline.coverage_below,
                p.offline.attitude_reason) == (30, 0.8, True)


def test_the_optional_tables_default_when_left_out():
    data = copy.deepcopy(preset_data("decree-335"))
    for table in ("unit_score", "decision", "year", "offline"):
        del data[table]
    del data["policy"]["period"]
    policy = pol.parse_policy(data)
    assert policy.unit_score is None and policy.period == "month"
    assert policy.decision == pol.DEFAULT_DECISION_RULE
    assert policy.offline == pol.DEFAULT_OFFLINE_RULE


def test_bad_file_names_the_file(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text('[policy]\nname = "x"\nmax_score = 100\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"site\.toml: missing key policy\.decimals"):
        pol.load_policy(path)
    path.write_text("[policy\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid TOML"):
        pol.load_policy(path)


def test_an_edited_copy_of_a_preset_loads(tmp_path):
    text = (pol.PRESETS_DIR / "decree-335.toml").read_text(encoding="utf-8")
    path = tmp_path / "site.toml"
    path.write_text(text.replace("min_ratings = 30", "min_ratings = 50"), encoding="utf-8")
    assert pol.load_policy(path).satisfaction.min_ratings == 50


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match="decree-335, hanoi-3814"):
        pol.load_preset("hanoi-2018")


def test_configured_policy_is_a_preset_name_or_a_toml_file(tmp_path):
    assert pol.load_configured("decree-335").name == pol.load_preset("decree-335").name
    text = (pol.PRESETS_DIR / "hanoi-3814.toml").read_text(encoding="utf-8")
    path = tmp_path / "site.toml"
    path.write_text(text.replace("min_ratings = 30", "min_ratings = 45"), encoding="utf-8")
    assert pol.load_configured(str(path)).satisfaction.min_ratings == 45
    with pytest.raises(ValueError, match="cannot read the policy file"):
        pol.load_configured(str(tmp_path / "missing.toml"))
    with pytest.raises(ValueError, match="unknown policy preset"):
        pol.load_configured("hanoi-2018")


# --- every value says where it comes from (issue 12) ------------------------------------------

# What names the preset rather than rules anything: no source or choice to state.
IDENTITY = {("policy", "name"), ("policy", "title_vi"), ("policy", "title_en"),
            ("policy", "source")}
TAG = re.compile(r"#.*\b(SOURCE|CHOICE)\b:?")


def untagged_keys(text: str) -> list[str]:
    """The `table.key` of each value line without a "# SOURCE: …" or "# CHOICE: …" tag: on
    its own line, or in the nearest comment block above it in the same paragraph (lines up
    to the previous blank line; other keys and the table's header in between are passed)."""
    lines = text.splitlines()
    table, missing = "", []
    for n, line in enumerate(lines):
        stripped = line.strip()
        header = re.fullmatch(r"\[\[?([\w.-]+)\]\]?.*", stripped)
        if header:
            table = header.group(1)
            continue
        key = re.match(r"([A-Za-z_][\w-]*)\s*=", stripped)
        if not key or (table, key.group(1)) in IDENTITY:
            continue
        if TAG.search(line):
            continue
        above = n - 1
        while above >= 0 and lines[above].strip() and not lines[above].lstrip().startswith("#"):
            above -= 1  # other keys and the header of the same paragraph
        block = []
        while above >= 0 and lines[above].lstrip().startswith("#"):
            block.append(lines[above])
            above -= 1
        if not any(TAG.search(comment) for comment in block):
            missing.append(f"{table}.{key.group(1)}")
    return missing


@pytest.mark.parametrize("name", ["hanoi-3814", "decree-335"])
def test_every_preset_value_carries_its_source_or_says_it_is_a_choice(name):
    text = (pol.PRESETS_DIR / f"{name}.toml").read_text(encoding="utf-8")
    assert untagged_keys(text) == []
    # Each choice says why: words follow the tag (on its line and the comment lines after).
    lines = text.splitlines()
    for n, line in enumerate(lines):
        if "CHOICE" not in line:
            continue
        why = line.split("CHOICE", 1)[1].split(":", 1)[-1].split()
        for after in lines[n + 1:]:
            if not after.startswith("#"):
                break
            why += after.lstrip("# ").split()
        assert len(why) >= 3, line


def test_an_untagged_value_is_found():
    text = ("[quota]\n# SOURCE: the decree\nshare = 0.2\n\n# Just a comment.\nrounding = "
            "\"floor\"\nother = 1  # CHOICE: because\n")
    assert untagged_keys(text) == ["quota.rounding"]


@pytest.mark.parametrize("name", ["hanoi-3814", "decree-335"])
def test_the_docs_list_the_presets_choices(name):
    """docs/evaluation.md's table of choices names each key a preset marks as a choice."""
    docs = (pol.PRESETS_DIR.parents[2] / "docs" / "evaluation.md").read_text(encoding="utf-8")
    section = docs.split("## What the decrees say and what hailong chose", 1)[1]
    assert f"`{name}`" in section
    for key in ("decimals", "min_ratings", "measure", "weight", "zero_at", "quantity_weight",
                "rounding", "[alerts]"):
        assert key in section, key


def test_an_excused_overdue_task_is_explained_though_it_earns_nothing():
    """The choice that an excuse forgives the delay, not the work left undone, is said in a
    0-point line, so the explanation lines still sum to the score."""
    from collector.evaluation.scoring import Task, TaskEvidence, suggest
    policy = pol.load_preset("decree-335")
    leader = {"politics_ethics": 7.5, "discipline": 7.5, "service_attitude": 7.5,
              "innovation": 7.5}
    result = suggest(policy, None, TaskEvidence(tasks=(
        Task(1, True, title="Báo cáo"), Task(1, False, delays=1, delays_excused=1,
                                              title="Quy chế"))), leader)
    # Half the assigned weight done: 70 × 1/2 = 35 for tasks, 30 general → 65.
    assert result.criteria["task_results"] == 35.0 and result.score == 65.0
    excused = [line for line in result.lines if "Quy chế" in line.en]
    assert [(line.points, line.en) for line in excused] == [
        (0.0, "Task “Quy chế” not completed: its delay is excused as objective, but work not "
              "done earns no points")]
    assert "chưa hoàn thành" in excused[0].vi
    assert round(sum(line.points for line in result.lines), 2) == result.score
