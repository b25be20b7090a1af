"""The rows of a unit's month, computed straight from the evidence (issue 13: a province's
month close scores every officer, so each row costs what it shows and no more)."""
