"""zkFL's digits federation as a Flower app."""
