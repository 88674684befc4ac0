"""The pure core: canonical events, statuses, the case state machine. No I/O here."""
