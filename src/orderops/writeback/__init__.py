"""Writing decisions back to the systems of record: outbox, claims, delivery, sagas,
connectors and their stored credentials. The worker loop that concludes decisions when
their rows settle is orchestration: workflow/writeback_worker.py."""
