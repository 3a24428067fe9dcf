"""Voice warnings: templates, pyttsx3 clip cache, outputs. See design.md."""
