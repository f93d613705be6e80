"""verl glue shared by the ERPO, PREPO and GRESO trainer parts (they import this, never each other)."""
