"""Outbound webhooks to the retailer's own systems (docs/OUTBOUND_WEBHOOKS.md).

``events`` queues an event in the caller's transaction (it imports only storage and the
domain, so the case lifecycle can call it from below the writeback layer);
``subscriptions`` is the application service the API calls; ``delivery`` leases, signs,
posts and records through the writeback outbox's machinery.
"""
