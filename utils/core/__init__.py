"""Shared core: records, questionnaires, answer parsing, results files (`results/`), paths, errors, secrets."""
