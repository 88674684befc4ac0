"""Orchestration: the pipeline that applies the inbox, detection, sweeps, the worker and
its passes (writeback delivery, retention, reconciliation, notifications), imports, replay
and a person's relinks.

The top of the desk's layers: it drives decide/, cases/, recommend/, resolve/, detect/,
ingest/, evidence/ and writeback/, and none of them imports it back (pyproject.toml's
[tool.importlinter], tests/unit/test_layers.py)."""
