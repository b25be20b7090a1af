"""Scoring policy presets (TOML), read by collector.evaluation.policy.load_preset."""
