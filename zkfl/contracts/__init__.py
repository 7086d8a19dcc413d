"""zkFL's Solidity sources (the coordinator, the verifier interface, the reusable-verifier adapter)
and the solc-js front end (solc.js), shipped as package data together with their compiled
form, compiled.json (`zkfl.evm.contracts`). Generated verifiers are build outputs, not here."""
