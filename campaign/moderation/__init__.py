"""The signatories as organisers see them: list, filters, moderation, exports, privacy requests."""
