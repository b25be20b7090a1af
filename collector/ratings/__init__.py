"""Citizens' ratings as evidence: satisfaction arithmetic, trends, counter alerts."""
