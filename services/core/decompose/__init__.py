"""Behaviour summary -> validated OptimizationRequest (rules backend, LLM backend with the rules as fallback)."""
