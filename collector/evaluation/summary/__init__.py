"""A unit's month in figures for a unit too large to rank officer by officer (issue 13).

`reads` holds the SQL aggregates (per unit of the subtree: the month's members by workflow
step, their ratings by kind, open alerts); `unit` rolls them up per direct sub-unit with the
same membership as collector/evaluation/month.py `unit_month`.
"""
