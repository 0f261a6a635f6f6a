"""Results files: what a run is (`spec`), its columns (`schema`), reading a file (`table`) and
finding the files under a results root (`tree`)."""
