"""The elicitation methods: how an answer distribution is read from a model."""
