"""Any survey in one schema (`data`), its files (`files`), and one module per source that reads
into it (docs/surveys.md)."""
