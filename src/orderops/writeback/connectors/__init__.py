"""Connectors: one module per external system OrderOps writes back to.

A connector knows one vendor's API and nothing of cases. Each public method is one
idempotent writeback (keyed by the idempotency key fixed at decision time) or one read
used for reconciliation. Shared retry, breaker and error rules live in ``base``.
"""
