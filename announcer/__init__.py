"""Voice warnings (issue 3): templates, pyttsx3 clip cache, outputs. See design.md."""
