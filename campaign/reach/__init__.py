"""Bringing officials to sign: mailings, invitations, relays, town halls' addresses."""
