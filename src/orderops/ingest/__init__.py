"""From outside payloads to canonical events: envelope, intake, dead letters."""
