"""The written rules the reference reader labels by: one plain statement per exception type.

These are the store owner's words, with their numbers, written from what each kind of
exception is for (the desk's detectors were read for intent, not imported). A label's
``at`` is the moment its statement first became true. Every rule reads provider records
linked to an order by the conventions in ``reference``; a record that cannot be linked
to exactly one order counts for none.

Types the simulated store never produces have no rule and are never labelled:
shipment_delay_predicted (a model's forecast, not a fact), partial_fulfillment_overdue
(every order leaves in one parcel), address_problem (every address is complete and no
carrier reports an address fault) and integration_silence (no provider goes quiet).
"""

from __future__ import annotations

from datetime import timedelta

PAYMENT_RECOVERY = timedelta(minutes=30)
CAPTURE_WAIT = timedelta(hours=48)
AUTH_EXPIRY = timedelta(days=7)
AUTH_WARNING = timedelta(hours=24)
REFUND_WAIT = timedelta(hours=48)
SUBSTITUTE_AFTER = timedelta(hours=24)
FIRST_SCAN_WAIT = timedelta(hours=24)
PAYMENT_OUTCOME_WAIT = timedelta(hours=6)
CHASING_TICKETS = 3
CHASING_WINDOW = timedelta(hours=72)
OPEN_ORDER_AGE = timedelta(days=60)
DELIVERED_STILL_OPEN = timedelta(days=14)

RULES: dict[str, str] = {
    "payment_failed": (
        "A payment for the order was declined while the order had no successful payment, "
        "and no payment for the order was authorised or captured within 30 minutes of the "
        "decline, nor was the order cancelled in that time. True 30 minutes after the decline."
    ),
    "payment_hold": (
        "Money was authorised for the order and neither captured nor released (authorisation "
        "cancelled, order cancelled) within 48 hours. True 48 hours after the authorisation."
    ),
    "authorization_expiring": (
        "An authorisation that lapses after 7 days was still neither captured nor released "
        "24 hours before it lapses. True 6 days after the authorisation."
    ),
    "fraud_review": (
        "A dispute, an early fraud warning or a Radar review was opened on a payment of the "
        "order while the order was neither cancelled nor fully refunded. True when opened."
    ),
    "duplicate_charge": (
        "Two or more payments captured for the order together exceed its original total. "
        "True at the capture that crossed the total."
    ),
    "refund_pending": (
        "The order was cancelled after money was captured for it, and the captured money was "
        "not fully refunded within 48 hours of the cancellation (Shopify refunds and Stripe "
        "refunds report the same money: the larger total counts). True 48 hours after the "
        "cancellation."
    ),
    "inventory_shortfall": (
        "While the order was neither fulfilled nor cancelled, one of its lines asked for more "
        "than its SKU's available stock summed over every location (each location's latest "
        "reported level). True at the order's placement or the stock report that made it so."
    ),
    "substitution_needed": (
        "A line stayed short (as above) for 24 hours without the order being fulfilled or "
        "cancelled. True 24 hours after the line became short."
    ),
    "shipment_late": (
        "The order, paid or authorised, neither cancelled nor fully refunded, had no delivery "
        "scan by its promise: the end of the last business day of its policy window (shipping "
        "line code or title, else the default window; cut-off, weekends and holidays as the "
        "policy says). True at the promise."
    ),
    "pre_dispatch_delay": (
        "A fulfillment with a tracking number had no carrier scan beyond the label within 24 "
        "hours of its creation. True 24 hours after the fulfillment."
    ),
    "carrier_exception": (
        "A carrier reported trouble with one of the order's parcels: a failed delivery "
        "attempt, an exception or failure, a return to sender or a loss. True at the scan."
    ),
    "stuck_order": (
        "Either no payment outcome (an authorisation, capture or decline, or a Shopify "
        "financial status other than pending) within 6 hours of placement, the order not "
        "cancelled meanwhile (true 6 hours after placement); or the order was paid or "
        "authorised and not cancelled at its handling deadline (the end of the policy "
        "window's handling days) with no fulfillment by then (true at the deadline). "
        "Whichever comes first."
    ),
    "customer_chasing": (
        "Three tickets about the order were opened within 72 hours. A ticket is about an "
        'order when it names it ("#1538", "order 1538", "order no. 1538", an order-number '
        "custom field, the Shopify order id as external id), or, naming none, when its "
        "requester's email has exactly one open order when the ticket is opened (placed in "
        "the last 60 days, not cancelled, not delivered more than 14 days before). True at the "
        "third ticket."
    ),
}
