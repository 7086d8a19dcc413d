// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IHalo2Verifier, VerifierOutOfGas} from "./IHalo2Verifier.sol";
import {Commitments} from "./Commitments.sol";
import {PullPayments} from "./PullPayments.sol";

/// @title Disputes over a round's updates and model
/// @notice What keeps an accepted commitment honest after it was accepted, in a round's challenge
///         window (`challengeWindow` blocks after its deadline), each posting `bond`:
///         - optimistic federations: `challenge` an update with its proof bytes (the verifier
///           runs; invalid: slashed), or `requestProof` when the bytes are not in the store;
///         - every federation: `requestOpening` of an update whose vector is not in the store or
///           whose canonical commitment differs, and `requestOpening(round, MODEL_SLOT)` of the
///           round's model, until its deadline.
///         Anyone holding the bytes or the vector answers (`revealProof`, `openVector`) within
///         `revealWindow` blocks and is credited the bond, which covers the answer's gas. Unanswered
///         (`settleUnanswered`): the update leaves the round and its client is slashed, or the
///         round is skipped back to the previous model and its aggregator's model bond slashed.
///         A round cannot close while a request is open, and every request ends by its deadline.
abstract contract Disputes is PullPayments {
    /// @notice The "slot" of a round's model in requests and openings.
    uint256 public constant MODEL_SLOT = type(uint256).max;
    /// @notice The largest challenger share: a cheater that challenges itself still loses half its stake.
    uint16 public constant MAX_CHALLENGER_SHARE_BPS = 5_000;
    /// @notice Gas a proof reveal may take (verifier ~0.92M and its calldata ~0.25M at the digits shape, measured).
    uint256 public constant PROOF_REVEAL_GAS = 1_300_000;
    /// @notice Gas of an opening: a base, and per element one ecMul, one ecAdd and 96 bytes of calldata
    ///         (measured: 6.56M gas for the digits update's 651 elements, 10.1k each).
    uint256 public constant OPENING_GAS_BASE = 80_000;
    uint256 public constant OPENING_GAS_PER_ELEMENT = 11_000;

    uint8 private constant NONE = 0;
    uint8 private constant PROOF = 1;
    uint8 private constant OPENING = 2;

    /// @dev A slot's disputes in one word: the open request (who posted the bond, the last block
    ///      to answer by, its kind), whether its proof was verified on-chain, and whether its
    ///      vector was opened canonically (each is settled once).
    struct Dispute {
        address requester;
        uint64 revealBy;
        uint8 pending;
        bool defended;
        bool opened;
    }

    /// @notice Client proofs are verified when challenged (true), or on submission.
    bool public immutable optimistic;
    uint64 public immutable challengeWindow;
    uint64 public immutable revealWindow;
    uint256 public immutable challengeBond;
    uint16 public immutable challengerShareBps;
    uint256 public immutable bondGasPrice;
    /// @notice keccak256 of the Lagrange basis points an opening brings (`CommitmentKey.vectorBasisHash`).
    bytes32 public immutable vectorBasisHash;
    /// @notice Elements of an update vector; a model vector has one fewer.
    uint256 public immutable updateLength;
    IHalo2Verifier public immutable clientVerifier;

    /// @dev Optimistic mode: slot => keccak256(abi.encode(proofSha256, keccak256(commitments),
    ///      submitter, round)) of the update accepted in the slot's latest round. Disputes are over
    ///      the open round only and a claim names its round, so one word a slot, rewritten (2.9k
    ///      gas) and never zeroed, where a word per round and slot cost 22.1k each.
    mapping(uint256 => bytes32) private _claims;
    mapping(uint256 => mapping(uint256 => Dispute)) private _disputes;
    /// @dev round => requests open (the round closes only at zero).
    mapping(uint256 => uint256) private _openRequests;

    constructor(IHalo2Verifier clientVerifier_, bool optimistic_, DisputeTerms memory terms, bytes32 basisHash, uint256 length) {
        if (terms.challengeWindow == 0 || terms.revealWindow == 0) revert InvalidConfig("dispute windows must be at least one block");
        if (terms.challengeWindow > type(uint32).max || terms.revealWindow > type(uint32).max) {
            revert InvalidConfig("dispute windows must be below 2^32 blocks");
        }
        if (terms.bond == 0) revert InvalidConfig("the bond must be positive (a free request invites griefing)");
        if (terms.challengerShareBps > MAX_CHALLENGER_SHARE_BPS) revert InvalidConfig("challenger share is at most 5000 bps");
        if (length < 2) revert InvalidConfig("an update has at least one weight and its sample count");
        if (terms.bond < terms.bondGasPrice * answerGasAllowanceOf(length)) {
            revert InvalidConfig("the bond must cover the costliest answer at bondGasPrice");
        }
        clientVerifier = clientVerifier_;
        optimistic = optimistic_;
        challengeWindow = terms.challengeWindow;
        revealWindow = terms.revealWindow;
        challengeBond = terms.bond;
        challengerShareBps = terms.challengerShareBps;
        bondGasPrice = terms.bondGasPrice;
        vectorBasisHash = basisHash;
        updateLength = length;
    }

    // ------------------------------------------------------------------ proofs (optimistic)

    /// @notice Challenge an optimistically accepted update with its proof bytes, posting the bond.
    ///         The verifier runs: not valid (or not the claimed commitments), the update leaves the
    ///         round, its client is slashed and the challenger credited the bond and its share;
    ///         valid, the bond is credited to the client.
    /// @param round The update's round (the open one).
    /// @param slot Its slot.
    /// @param commitments The commitments it was submitted with (`submitUpdateOptimistic`).
    /// @param proof The proof bytes (from the store), whose SHA-256 the submission gave.
    function challenge(uint256 round, uint256 slot, bytes calldata commitments, bytes calldata proof) external payable {
        if (!optimistic) revert WrongVerificationMode(false);
        Dispute storage dispute = _checkRequestable(round, slot);
        if (dispute.defended) revert AlreadyDefended(round, slot);
        _settle(round, slot, commitments, proof, msg.sender, false);
    }

    /// @notice Request the proof of an optimistic update whose bytes are not in the store, posting
    ///         the bond. Anyone holding them answers with `revealProof` within `revealWindow` blocks.
    function requestProof(uint256 round, uint256 slot) external payable {
        if (!optimistic) revert WrongVerificationMode(false);
        Dispute storage dispute = _checkRequestable(round, slot);
        if (dispute.defended) revert AlreadyDefended(round, slot);
        emit ProofRequested(round, slot, msg.sender, _open(dispute, round, PROOF));
    }

    /// @notice Answer a proof request with the proof bytes (anyone may). The verifier runs: valid,
    ///         the bond is credited to the revealer; not valid, the update is slashed as for a challenge.
    function revealProof(uint256 round, uint256 slot, bytes calldata commitments, bytes calldata proof) external {
        address requester = _answer(round, slot, PROOF);
        _settle(round, slot, commitments, proof, requester, true);
    }

    // ------------------------------------------------------------------ openings (every federation)

    /// @notice Request the canonical opening of an accepted update (`slot`), until the round's
    ///         challenge window closes, or of the round's model (`MODEL_SLOT`, when an aggregation
    ///         published it into this round), until its deadline,
    ///         posting the bond. Anyone holding the vector answers with `openVector`.
    function requestOpening(uint256 round, uint256 slot) external payable {
        Dispute storage dispute;
        if (slot == MODEL_SLOT) {
            if (!_modelBonded(round)) revert ModelNotDisputable(round);
            if (msg.value != challengeBond) revert WrongBond(challengeBond, msg.value);
            uint256 deadline = _openRoundDeadline(round);
            if (block.number > deadline) revert ChallengeWindowClosed(round, deadline, block.number);
            dispute = _disputes[round][slot];
            if (dispute.pending != NONE) revert RequestPending(round, slot, dispute.revealBy);
        } else {
            if (_updatesArePrivate()) revert UpdatesArePrivate(round, slot);
            dispute = _checkRequestable(round, slot);
        }
        if (dispute.opened) revert AlreadyOpened(round, slot);
        emit OpeningRequested(round, slot, msg.sender, _open(dispute, round, OPENING));
    }

    /// @notice Answer an opening request with the vector (anyone may): its canonical commitment,
    ///         C(0) + sum_j values[j] * L_j, must be the one the round holds. The bond is credited to
    ///         the opener; the elements stay in this transaction's calldata for everyone to read.
    /// @param values The vector as field elements (negative x as p - |x|).
    /// @param basis L_0 .. L_{updateLength-1}, 64 bytes each (x, y), as hashed at deployment.
    function openVector(uint256 round, uint256 slot, uint256[] calldata values, bytes calldata basis) external {
        _answer(round, slot, OPENING);
        if (keccak256(basis) != vectorBasisHash) revert WrongBasis();
        uint256 length = slot == MODEL_SLOT ? updateLength - 1 : updateLength;
        if (values.length != length) revert WrongVectorLength(length, values.length);
        uint256 expected = slot == MODEL_SLOT ? _roundModelHash(round) : _acceptedHash(round, slot);
        uint256 got = Commitments.vectorHash(_zeroPoint(), basis, values);
        if (got != expected) revert WrongOpening(round, slot, expected, got);
        _disputes[round][slot].opened = true;
        emit VectorOpened(round, slot, msg.sender, challengeBond);
        _credit(msg.sender, challengeBond);
    }

    /// @notice Settle a request nobody answered in time (anyone may): an update leaves the round and
    ///         its client is slashed; for the model, the round is skipped back to the previous model
    ///         and its aggregator's model bond slashed. The requester is credited its bond and share.
    /// @param updatePoint An update's commitment (64 bytes, as in `UpdateAccepted`), which leaves
    ///        the round's sum; empty for the model.
    function settleUnanswered(uint256 round, uint256 slot, bytes calldata updatePoint) external {
        Dispute storage dispute = _disputes[round][slot];
        if (dispute.pending == NONE) revert NoRequest(round, slot);
        if (block.number <= dispute.revealBy) revert RevealWindowOpen(round, slot, dispute.revealBy, block.number);
        address requester = dispute.requester;
        _close(dispute, round);
        if (slot == MODEL_SLOT) _rollBackModel(round, requester, challengeBond);
        else _slashUpdate(round, slot, requester, challengeBond, updatePoint);
    }

    // ------------------------------------------------------------------ views

    /// @notice The open request of a slot (requester zero: none), its kind (1 proof, 2 opening),
    ///         and whether the slot's proof was verified and its vector opened on-chain.
    function disputeOf(uint256 round, uint256 slot) external view returns (Dispute memory) {
        return _disputes[round][slot];
    }

    /// @notice Requests open in a round.
    function openRequests(uint256 round) public view returns (uint256) {
        return _openRequests[round];
    }

    /// @notice The most gas an answer to a request may take: a proof reveal, or the opening of an update.
    function answerGasAllowance() external view returns (uint256) {
        return answerGasAllowanceOf(updateLength);
    }

    function answerGasAllowanceOf(uint256 length) public pure returns (uint256) {
        uint256 opening = OPENING_GAS_BASE + length * OPENING_GAS_PER_ELEMENT;
        return opening > PROOF_REVEAL_GAS ? opening : PROOF_REVEAL_GAS;
    }

    // ------------------------------------------------------------------ for the coordinator

    /// @dev The open round's submission deadline (reverts unless `round` is the open round).
    function _openRoundDeadline(uint256 round) internal view virtual returns (uint256);
    /// @dev The commitment hash accepted in a slot of a round (0: none).
    function _acceptedHash(uint256 round, uint256 slot) internal view virtual returns (uint256);
    function _roundModelHash(uint256 round) internal view virtual returns (uint256);
    /// @dev Whether the round's model was published by `finalizeRound` and its bond is still held.
    function _modelBonded(uint256 round) internal view virtual returns (bool);
    /// @dev Who submitted the update in a slot of the open round.
    function _submitter(uint256 slot) internal view virtual returns (address);
    function _zeroPoint() internal view virtual returns (uint256[2] memory);
    /// @dev Whether updates are private: then no update is opened (its masked upload is checked instead).
    function _updatesArePrivate() internal view virtual returns (bool);
    /// @dev Remove an update from its round (and its commitment, `updatePoint`, from the round's
    ///      sum) and slash its client; credit `beneficiary` the bond and its share.
    function _slashUpdate(uint256 round, uint256 slot, address beneficiary, uint256 bond, bytes calldata updatePoint)
        internal
        virtual;
    /// @dev Skip a round whose model nobody opened, back to the previous model; slash its publisher.
    function _rollBackModel(uint256 round, address requester, uint256 bond) internal virtual;

    function _disputeOf(uint256 round, uint256 slot) internal view returns (Dispute memory) {
        return _disputes[round][slot];
    }

    function _recordClaim(uint256 round, uint256 slot, bytes32 proofSha256, bytes32 commitmentsHash) internal {
        _claims[slot] = _claim(proofSha256, commitmentsHash, msg.sender, round);
    }

    /// @dev Forget a slot's disputes (its update left the round; its claim stays, naming a round
    ///      whose slot holds no update, so nothing can be settled against it).
    function _clearSlot(uint256 round, uint256 slot) internal {
        delete _disputes[round][slot];
    }

    /// @dev A verifier that reverts or returns false both mean: not a valid proof. But running out
    ///      of gas is no verdict: a verifier that left the caller less than 1/32 of the gas it had
    ///      (EIP-150 keeps 1/64 back at each of the two call depths, so a starved final pairing
    ///      leaves about 2/64), or that says so itself (VerifierOutOfGas), makes the call revert.
    function _isValid(IHalo2Verifier verifier, bytes calldata proof) internal view returns (bool) {
        uint256 gasBefore = gasleft();
        try verifier.verifyProof(proof, new uint256[](0)) returns (bool ok) {
            if (!ok && gasleft() < gasBefore / 32) revert VerifierOutOfGas(address(verifier));
            return ok;
        } catch (bytes memory reason) {
            if (gasleft() < gasBefore / 32 || bytes4(reason) == VerifierOutOfGas.selector) {
                revert VerifierOutOfGas(address(verifier));
            }
            return false;
        }
    }

    // ------------------------------------------------------------------ internals

    /// @dev An accepted update of the open round, inside its challenge window, with the bond, and
    ///      no request open on it.
    function _checkRequestable(uint256 round, uint256 slot) private view returns (Dispute storage dispute) {
        if (msg.value != challengeBond) revert WrongBond(challengeBond, msg.value);
        uint256 closesAt = _openRoundDeadline(round) + challengeWindow;
        if (block.number > closesAt) revert ChallengeWindowClosed(round, closesAt, block.number);
        if (_acceptedHash(round, slot) == 0) revert NothingToChallenge(round, slot);
        dispute = _disputes[round][slot];
        if (dispute.pending != NONE) revert RequestPending(round, slot, dispute.revealBy);
    }

    function _open(Dispute storage dispute, uint256 round, uint8 kind) private returns (uint64 revealBy) {
        revealBy = uint64(block.number) + revealWindow;
        dispute.requester = msg.sender;
        dispute.revealBy = revealBy;
        dispute.pending = kind;
        _openRequests[round] += 1;
    }

    /// @dev Close an open request of `kind` answered in time; returns its requester.
    function _answer(uint256 round, uint256 slot, uint8 kind) private returns (address requester) {
        Dispute storage dispute = _disputes[round][slot];
        if (dispute.pending != kind) revert NoRequest(round, slot);
        if (block.number > dispute.revealBy) revert RevealWindowClosed(round, slot, dispute.revealBy, block.number);
        requester = dispute.requester;
        _close(dispute, round);
    }

    function _close(Dispute storage dispute, uint256 round) private {
        dispute.requester = address(0);
        dispute.revealBy = 0;
        dispute.pending = NONE;
        _openRequests[round] -= 1;
    }

    /// @dev Run the verifier on the claimed proof of an update: slash it, or credit the bond to
    ///      the revealer (an answered request) or to the client (a failed challenge).
    function _settle(uint256 round, uint256 slot, bytes calldata commitments, bytes calldata proof, address challenger, bool revealed)
        private
    {
        address submitter = _submitter(slot);
        bytes32 commitmentsHash = keccak256(commitments);
        if (_claims[slot] != _claim(sha256(proof), commitmentsHash, submitter, round)) revert ClaimMismatch(round, slot);
        uint256 prefix = 4 * 64;
        bool valid = proof.length >= prefix && keccak256(proof[:prefix]) == commitmentsHash && _isValid(clientVerifier, proof);
        // the submitted commitments (their hash is the claim's) end with the accepted update's point
        if (!valid) return _slashUpdate(round, slot, challenger, challengeBond, commitments[prefix - 64:prefix]);
        _disputes[round][slot].defended = true;
        if (revealed) {
            emit ProofRevealed(round, slot, msg.sender, challengeBond);
            _credit(msg.sender, challengeBond);
        } else {
            emit ChallengeFailed(round, slot, submitter, challenger, challengeBond);
            _credit(submitter, challengeBond);
        }
    }

    function _claim(bytes32 proofSha256, bytes32 commitmentsHash, address submitter, uint256 round)
        private
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(proofSha256, commitmentsHash, submitter, round));
    }
}
