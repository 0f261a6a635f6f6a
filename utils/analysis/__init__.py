"""Analysing answers: human data, metrics, scoring, plotting and the flags of `show_results/` scripts."""
