"""Alembic migrations of the snapshot database, run by `dockerhub_export.store.upgrade_database`.

A package (rather than a bare folder) so that ``env.py`` ships in the wheel with the code; the
revisions in ``versions/`` ship through the package-data globs.
"""
