"""The published letter: signatories grouped by territory and its downloads."""
