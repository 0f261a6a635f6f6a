"""The backend for local Hugging Face causal language models: loading, packing, sampling."""
