"""The monthly evaluation: policy, scoring, the month and the year, tasks, workflow, responses."""
