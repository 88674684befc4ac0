"""Our own database: tables, engine factory, unit of work, repositories, migrations."""
