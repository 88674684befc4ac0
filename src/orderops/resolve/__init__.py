"""Resolve: the step between ingest and detect that says which order, payment, shipment,
stock position, ticket and customer a record is about.

Providers name things their own way (a Shopify order id, "#1001", a checkout token, a
Stripe charge, a tracking code, the digits a customer typed into a ticket). Every such
key is an alias of one entity in the tenant's alias table, and every canonical event is
resolved through it before it is projected, so a record that names an order in the
provider's own way still reaches that order. A record whose anchor has not arrived yet
waits in the inbox, keyed by the alias it needs, and goes again when that alias appears.
"""
