"""Result tables (markdown, LaTeX) with published numbers beside them: `python -m erpo.tables`."""
