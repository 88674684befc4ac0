"""Evidence: content-addressed blobs (uploads, decision snapshots) that prove what was known."""
