"""Reaching a chain (transport: a local anvil devnet or any JSON-RPC URL) apart from what a round
is on-chain (the coordinator contract)."""
