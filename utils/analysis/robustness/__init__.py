"""Robustness: how far scores and conclusions move with the prompt (`--perturb`, `--repeats`)."""
