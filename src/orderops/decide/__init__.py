"""Decisions on a case: proposed actions, approvals and who may give them, the remedy
ledger, policy versions, desk holds, customer messages, reviewer transitions, and
the execution that concludes an action when its writeback settles.

Above writeback/ (an approval writes outbox rows in its own transaction) and
cases/; workflow/ drives it, and nothing below imports it back.
"""
