"""The study report: coverage of a results tree, run information, and the one-page HTML."""
