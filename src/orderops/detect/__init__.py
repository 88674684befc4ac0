"""Detectors: rules over order snapshots (and, later, learned models)."""
