"""What the pages show: pure functions from JSON twins to display-ready values, charts, pagers."""
