"""`--batch`: a run's requests as provider batch jobs (OpenAI's files and batches endpoints), at
half the price, answered within a day.

    lines   the JSONL a batch reads (custom_id, method, url, body) and what its output lines hold
    record  the job record beside the results: a restart polls the recorded batch, never a new one
    client  the files and batches endpoints, with bounded retries, and polling with back-off
    run     rounds of batches over a plan: every answer read by the method as the synchronous run
            reads it, rows written through the same store; unreadable answers asked again in a
            follow-up batch, at most --max-attempts asks
"""
