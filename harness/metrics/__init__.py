"""Run metrics: the recorder plugins write to, and summaries with units."""
