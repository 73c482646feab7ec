"""Régions, départements, communes; the mandates that name them; the map drawn from them."""
