"""Shared core: records, questionnaires, answer parsing, the results layout, paths, errors, secrets."""
import csv

# Every reader of results files (the store, the analysis, the parse report) comes through here:
# files edited by hand, or written before text columns were capped, may hold long fields.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
