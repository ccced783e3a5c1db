"""Store functions: keyword-only arguments, values or domain errors back, no HTTP."""
