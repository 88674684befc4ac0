"""Alembic migrations, shipped inside the package so `orderops db upgrade` works anywhere."""
