"""Any survey in one schema: its items and its human answers per population, whatever the source.

`schema` holds the records, `files` reads and writes them (`<survey>.survey.json`,
`<survey>.questions.jsonl`, `<survey>.csv`), and one module per source turns files a user has into
them: `wvs` (a prepared WVS long table), `opinionqa`, `globalopinionqa`, `codebook` (any microdata).
"""
