"""Reading one TOML table of a policy file strictly: each helper raises ValueError naming the key
(`quota.share must be between 0 and 1`), because a policy silently half-read would grade people
wrongly. Shared by collector/evaluation/policy.py and the rule modules beside this one."""

from __future__ import annotations

from collections.abc import Iterable


def get_key(table: dict, key: str, where: str, kind, default=...):
    """table[key] checked to be of `kind` (float accepts int); `default` when absent, else a
    missing key is an error."""
    name = f"{where}.{key}" if where else key
    if key not in table:
        if default is not ...:
            return default
        raise ValueError(f"missing key {name}")
    value = table[key]
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ValueError(f"{name} must be {kind.__name__}, got {value!r}")
    return value


def share_key(table: dict, key: str, where: str, default=...) -> float:
    """A number from 0 to 1."""
    value = get_key(table, key, where, float, default)
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}.{key} must be between 0 and 1, got {value}")
    return value


def table_key(data: dict, key: str, where: str = "") -> dict:
    return get_key(data, key, where, dict)


def choice_key(table: dict, key: str, where: str, choices: Iterable[str], default=...) -> str:
    choices = tuple(choices)
    value = get_key(table, key, where, str, default)
    if value not in choices:
        raise ValueError(f"{where}.{key} must be one of {', '.join(choices)}, got {value!r}")
    return value


def no_extra_keys(table: dict, allowed: Iterable[str], where: str) -> None:
    # A misspelt optional key (share_outstandng) would otherwise be ignored without a word.
    allowed = tuple(allowed)
    for key in table:
        if key not in allowed:
            raise ValueError(f"unknown key {where + '.' if where else ''}{key}")
