"""Asking models: prompts, conditions, elicitation methods, backends, the run loop, result store and CLI."""
