"""Email: the outbox queue, the worker that sends it, message building, the dev sink."""
