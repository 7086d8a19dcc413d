"""Content-addressed storage of artifacts and vectors: CIDs, the local store, and the client of an
IPFS node's HTTP RPC API (Kubo or js-ipfs)."""
