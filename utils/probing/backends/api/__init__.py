"""The backend for OpenAI-compatible chat-completions servers (OpenAI, DeepSeek, vLLM, llama.cpp)."""
