"""Shared core: records, questionnaires, answer parsing, the results layout, paths, errors, secrets."""
