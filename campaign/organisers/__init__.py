"""Organiser accounts: roles, passwords, sessions, login throttling."""
