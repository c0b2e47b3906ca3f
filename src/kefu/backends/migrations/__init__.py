"""Versioned schema migrations of the SQL store (Alembic)."""
