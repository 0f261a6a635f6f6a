"""`--protocol release`: asking as the paper's public release asks, read from a checkout of it."""
