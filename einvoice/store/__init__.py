"""Persistence: tables, database engine, migrations and the archive of originals."""
