"""Shared ground of every layer: bilingual errors, typed text, local time and months, process settings."""
