"""Library behind the `code/` and `show_results/` scripts, in two halves with a small shared core.

- `utils.core`: what both halves read: survey items and records, questionnaires, the answer
  parser, the results layout and row reader, paths, errors and the secret filter.
- `utils.probing`: asking models: prompts, conditions, the API and Hugging Face backends,
  the result store, the run loop and the command line of `code/RQ*/prob_by_*.py`.
- `utils.analysis`: analysing answers: human data (WVS microdata and prepared tables), metrics,
  scoring, plotting and the flags every `show_results/` script shares.
"""
