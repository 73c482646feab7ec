"""The public pages (French, complete without JavaScript)."""
