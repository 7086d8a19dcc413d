"""The roles that compose the lower layers: a client's proven training step, the aggregator's
proven FedAvg, the responder that answers disputes, and the watchtower."""
