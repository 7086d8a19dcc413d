"""Content-addressed storage of artifacts and vectors: CIDs, the local store and the IPFS (Kubo HTTP API) client."""
