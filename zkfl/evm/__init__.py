"""The EVM toolchain: Solidity compilation through solc-js, ezkl verifier generation."""
