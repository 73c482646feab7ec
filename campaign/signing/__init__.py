"""Signing and confirming: validation, abuse signals, group commits, withdrawal, purge."""
