"""Asking models: prompts, conditions, the elicitation methods, the backends, the run loop, the result store
and the command line."""
