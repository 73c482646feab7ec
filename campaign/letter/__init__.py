"""The letter: campaigns and their versions, the launch instant, consent wording."""
