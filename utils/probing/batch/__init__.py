"""`--batch`: a run's requests as OpenAI batch jobs (files and batches endpoints), at half the price,
answered within a day; answers are read and stored as a synchronous run's are (docs/probing.md)."""
