"""Open-letter campaign service: publish a letter, collect confirmed signatures, count them live."""
