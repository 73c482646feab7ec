"""Email: the outbox queue, the worker that sends it, the registry of the emails' contexts,
message building, SMTP sending, the dev sink."""
