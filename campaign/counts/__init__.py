"""Confirmed signatures counted per territory: in memory, live streams, hourly history."""
