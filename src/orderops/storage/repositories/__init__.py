"""Repositories: every query of a table, always scoped by the unit of work's tenant."""
