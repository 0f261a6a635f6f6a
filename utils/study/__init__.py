"""A whole study from one TOML file (`code/run_study.py`, docs/study.md): models, experiments,
human data, analyses and the report."""
