"""Adapters: the only modules that touch files, databases and networks."""
