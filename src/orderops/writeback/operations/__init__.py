"""Writeback operations, one module per kind of effect: money, fulfilment, messages."""
