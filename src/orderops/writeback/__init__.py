"""Writing decisions back to the systems of record: outbox, worker, connectors."""
