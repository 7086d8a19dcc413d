// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IHalo2Verifier, VerifierOutOfGas} from "./IHalo2Verifier.sol";

/// @title One circuit's view of ezkl's reusable verifier
/// @notice The fallback for a circuit whose dedicated verifier is over the 24,576-byte limit:
///         ezkl's `Halo2VerifierReusable` checks proofs of any circuit given that circuit's
///         verification-key artifact (VKA). This adapter pins one VKA and presents the pair as an
///         ordinary `IHalo2Verifier`, so the coordinator does not know which kind it calls.
/// @dev The VKA lives as the runtime code of a data contract (SSTORE2 layout: a STOP byte, then
///      the words), read with one EXTCODECOPY instead of hundreds of SLOADs. The reusable
///      verifier's return data is not valid ABI for its declared tuple, so only its first word
///      (the success flag) is read; a revert or a short return is a rejection. But a starved
///      call is not a rejection: the reusable verifier answers false, not a revert, when a
///      precompile call inside it runs out of gas. So a verdict other than "valid" counts only
///      when the verifier gave back gas to spare (at least 1/32 of what the adapter had); otherwise
///      the adapter reverts with VerifierOutOfGas, an under-gassed call never looks like a
///      rejected proof, and gas estimation cannot settle on the starved path.
contract ReusableVerifierAdapter is IHalo2Verifier {
    /// @param store The data contract whose code should hold the VKA.
    error EmptyVka(address store);

    bytes4 private constant VERIFY = bytes4(keccak256("verifyProof(bytes,uint256[],bytes32[])"));

    /// @notice The shared `Halo2VerifierReusable`.
    address public immutable verifier;
    /// @notice The data contract holding this circuit's VKA words.
    address public immutable vkaStore;
    uint256 public immutable vkaWords;

    /// @param verifier_ A deployed `Halo2VerifierReusable` on which the VKA is registered.
    /// @param vkaStore_ A data contract whose code is a STOP byte followed by the VKA words.
    constructor(address verifier_, address vkaStore_) {
        uint256 size = vkaStore_.code.length;
        if (size < 33) revert EmptyVka(vkaStore_);
        verifier = verifier_;
        vkaStore = vkaStore_;
        vkaWords = (size - 1) / 32;
    }

    /// @inheritdoc IHalo2Verifier
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external view returns (bool) {
        bytes32[] memory vka = new bytes32[](vkaWords);
        address store = vkaStore;
        assembly {
            extcodecopy(store, add(vka, 0x20), 1, mul(mload(vka), 0x20))
        }
        bytes memory call = abi.encodeWithSelector(VERIFY, proof, instances, vka);
        uint256 gasBefore = gasleft();
        (bool ok, bytes memory ret) = verifier.staticcall(call);
        uint256 flag;
        if (ok && ret.length >= 32) {
            assembly {
                flag := mload(add(ret, 0x20))
            }
        }
        if (flag != 1 && gasleft() < gasBefore / 32) revert VerifierOutOfGas(address(this));
        return flag == 1;
    }
}
