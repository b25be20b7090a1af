"""Scoring policy presets (TOML), read by collector.policy.load_preset."""
