"""Webhooks for the organisations: endpoints, signed deliveries through their own outbox, and the
worker that sends them (issue 17 §2). No HTTP serving here: the back office's pages are in
campaign/admin/hook_pages.py."""
