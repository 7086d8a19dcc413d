"""Checking what a federation did: proofs read back from the transactions that carried them and
verified off-chain and on-chain (`proofs`), the round checker shared by `zkfl verify --round` and
`zkfl audit` (`rounds`), the independent fixed-point FedAvg it replays (`fedavg`), and the findings
both report (`findings`)."""
