"""The prompt templates (*.toml), installed as the package `qa._prompts` (see pyproject.toml)."""
