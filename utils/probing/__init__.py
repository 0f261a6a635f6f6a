"""Asking models: prompts, conditions, probers, the result store, the run loop and its command line."""
