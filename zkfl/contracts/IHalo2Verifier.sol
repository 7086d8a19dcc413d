// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @notice A verifier ran out of gas before it could reach a verdict on a proof: not a rejection.
/// @param verifier The verifier contract that was called.
error VerifierOutOfGas(address verifier);

/// @title The interface of an ezkl-generated halo2/KZG verifier.
/// @notice ezkl's `Halo2Verifier` returns true for a valid proof and reverts (or returns false)
///         otherwise; callers must treat both as a rejection.
interface IHalo2Verifier {
    /// @param proof The proof bytes (ezkl's `hex_proof`).
    /// @param instances The public instances, each a BN254 scalar-field element.
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external view returns (bool);
}
