// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {ICoordinator} from "./ICoordinator.sol";

/// @title KZG commitments of the federation's vectors, recomputed with the EC precompiles
/// @notice A commitment (ezkl `polycommit`) is affine in its vector: C(v) = C(0) + sum_j v_j * L_j,
///         where L_j = C(e_j) - C(0) is the Lagrange basis point of row j and C(0) carries the
///         column's unusable rows (filled with 1 by the prover). The chain stores keccak256 of a
///         point's 64 bytes (x, y). Recomputing C(v) from v is what makes a commitment canonical:
///         a patched prover can put other values in the unusable rows and make a valid proof of
///         a commitment no honest party can reproduce; an opening on-chain tells the two apart.
library Commitments {
    /// @notice Bits of each context element, and how many elements a context has.
    uint256 internal constant CONTEXT_LEN = 5;
    uint256 internal constant CONTEXT_BITS = 24;
    /// @notice BN254's base field modulus: point coordinates live below it.
    uint256 internal constant BASE_FIELD = 21888242871839275222246405745257275088696311157297823662689037894645226208583;

    /// @notice keccak256 of C(context) for proofs that `account` submits to the federation
    ///         `federationId` on this chain: keccak256(abi.encode(chainid, federationId, account)),
    ///         its top CONTEXT_LEN * CONTEXT_BITS bits cut into CONTEXT_LEN elements.
    function contextHash(uint256[2] memory zero, uint256[2][5] memory basis, bytes32 federationId, address account)
        internal
        view
        returns (uint256)
    {
        uint256 bits = uint256(keccak256(abi.encode(block.chainid, federationId, account))) >>
            (256 - CONTEXT_LEN * CONTEXT_BITS);
        uint256[2] memory acc = zero;
        for (uint256 j = 0; j < CONTEXT_LEN; ++j) {
            uint256 element = (bits >> (CONTEXT_BITS * (CONTEXT_LEN - 1 - j))) & ((1 << CONTEXT_BITS) - 1);
            acc = add(acc, mul(basis[j], element));
        }
        return hashPoint(acc);
    }

    /// @notice keccak256 of the canonical C(values): C(0) plus values[j] * L_j over the basis
    ///         points given in calldata (64 bytes each, at least values.length of them). The
    ///         caller checks the basis against the federation's hash. Zero elements cost nothing.
    function vectorHash(uint256[2] memory zero, bytes calldata basis, uint256[] calldata values)
        internal
        view
        returns (uint256)
    {
        uint256[2] memory acc = zero;
        for (uint256 j = 0; j < values.length; ++j) {
            if (values[j] == 0) continue;
            uint256[2] memory point =
                [uint256(bytes32(basis[j * 64:j * 64 + 32])), uint256(bytes32(basis[j * 64 + 32:j * 64 + 64]))];
            acc = add(acc, mul(point, values[j]));
        }
        return hashPoint(acc);
    }

    /// @notice The 64 bytes (x, y, big-endian) at `data[offset:offset + 64]` as a point (not yet checked
    ///         to be on the curve: the precompiles refuse it when it is used).
    function pointAt(bytes calldata data, uint256 offset) internal pure returns (uint256[2] memory) {
        return [uint256(bytes32(data[offset:offset + 32])), uint256(bytes32(data[offset + 32:offset + 64]))];
    }

    /// @notice -p. A y outside the base field is no point: InvalidPoint.
    function negate(uint256[2] memory p) internal pure returns (uint256[2] memory) {
        if (p[1] >= BASE_FIELD) revert ICoordinator.InvalidPoint();
        return p[1] == 0 ? p : [p[0], BASE_FIELD - p[1]];
    }

    function hashPoint(uint256[2] memory p) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(p[0], p[1])));
    }

    /// @dev The identity encodes as (0, 0); the precompiles accept it, a commitment key must not hold it.
    function isIdentity(uint256[2] memory p) internal pure returns (bool) {
        return p[0] == 0 && p[1] == 0;
    }

    function add(uint256[2] memory a, uint256[2] memory b) internal view returns (uint256[2] memory sum) {
        uint256[4] memory input = [a[0], a[1], b[0], b[1]];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x06, input, 0x80, sum, 0x40)
        }
        if (!ok) revert ICoordinator.InvalidPoint();
    }

    function mul(uint256[2] memory p, uint256 scalar) internal view returns (uint256[2] memory product) {
        uint256[3] memory input = [p[0], p[1], scalar];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x07, input, 0x60, product, 0x40)
        }
        if (!ok) revert ICoordinator.InvalidPoint();
    }
}
