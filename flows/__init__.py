"""Prefect flows: thin wrappers that sequence the library's functions (see export_repositories.py)."""
