"""Scoring any imported survey (docs/surveys.md): its metric, its populations and groups."""
