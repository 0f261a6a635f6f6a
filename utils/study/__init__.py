"""A whole study from one TOML file: models, experiments, human data, analyses and the report
(`code/run_study.py`). `config` reads and checks the file, `plan` turns it into the probing
scripts' own arguments, `runner` runs probes, analyses and the report, `human` prepares data."""
