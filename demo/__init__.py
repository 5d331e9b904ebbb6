"""GenLab's UI: one module per tab (each with build(ctx)), shared helpers and the string table."""
