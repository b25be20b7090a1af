"""The ground of every layer: bilingual errors, free text, local time and months, settings."""
