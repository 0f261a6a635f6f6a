"""Backends: what asks a model, behind one interface (`Backend`), for an OpenAI-compatible server
(`api/`) and a local Hugging Face model (`hf/`)."""
