"""Library behind the `code/` scripts: questionnaires, prompts, probers, parsing, result storage."""
