"""Controllers: one module per resource, one function per route (held by the route table)."""
