// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IHalo2Verifier, VerifierOutOfGas} from "./IHalo2Verifier.sol";

/// @title zkFL round coordinator
/// @notice Runs a verifiable federated-learning federation. Clients register with a stake and
///         salted commitments to the data batches they will train on (one batch per round, each
///         used once); each round they submit a proven local training step from the round's
///         global model on one of their committed batches; the aggregator submits a proven FedAvg of exactly the accepted
///         updates, which becomes the next global model. Nothing unproven or unlinked is accepted.
/// @dev Proof links are Poseidon hashes (BN254 field elements) that appear as public instances:
///      client proof    [H(global), H(data), H(update)]
///      aggregation     [H(slot_0) .. H(slot_{K-1}), H(next global)]
///      A slot without an accepted update must carry `emptySlotHash` (the hash of the all-zero
///      update, which FedAvg weights by its zero sample count).
///      Binding of a proof to its sender: a data commitment belongs to the first account that
///      commits it, and a client proof must carry an unused commitment of the sender, so a proof
///      copied by another account is rejected; a proof is bound to its round through the round's
///      global model hash, and one submission per client and round is accepted. Committing the
///      batches before training means a client cannot pick its data after seeing the model.
contract Coordinator {
    // ------------------------------------------------------------------ types

    /// @notice A federation's economic and timing terms, fixed at deployment.
    /// @param stakeAmount Wei a client stakes to register (returned on withdrawal).
    /// @param rewardPerUpdate Wei owed to a client per accepted update, paid from the pool.
    /// @param submissionWindow Blocks each round accepts submissions.
    /// @param finalizationGrace Blocks after a deadline before a client with a pending update may withdraw.
    struct Terms {
        uint256 stakeAmount;
        uint256 rewardPerUpdate;
        uint64 submissionWindow;
        uint64 finalizationGrace;
    }

    /// @dev One storage word for the hot fields; rewards owed = (accepted - paid) * rewardPerUpdate.
    struct Client {
        bool registered;
        uint8 slot;
        uint64 acceptedUpdates;
        uint64 paidUpdates;
        uint256 stake;
    }

    /// @dev A committed data batch: who committed it and whether a proof has consumed it.
    struct DataBatch {
        address owner;
        bool used;
    }

    /// @dev CIDs are not stored: they travel in events (RoundOpened, UpdateAccepted), which is
    ///      where the aggregator and auditors read them, and storing ~60-byte strings would cost
    ///      ~66k gas per submission.
    struct Round {
        uint256 modelHash;
        uint64 deadline; // last block number at which submissions are accepted
        uint8 accepted;
        bool finalized;
    }

    // ------------------------------------------------------------------ errors

    error NotOwner(address caller);
    error NotAggregator(address caller);
    error WrongStake(uint256 required, uint256 sent);
    error AlreadyRegistered(address client);
    error NotRegistered(address client);
    error DataCommitmentTaken(uint256 dataCommitment);
    error DataCommitmentUsed(uint256 dataCommitment);
    error NoDataCommitments();
    error FederationFull(uint256 slots);
    error WrongRound(uint256 current, uint256 given);
    error SubmissionClosed(uint256 round, uint256 deadline, uint256 blockNumber);
    error SubmissionStillOpen(uint256 round, uint256 deadline, uint256 blockNumber);
    error AlreadySubmitted(uint256 round, address client);
    error WrongInstanceCount(uint256 expected, uint256 got);
    error WrongGlobalModel(uint256 round, uint256 expected, uint256 got);
    error WrongDataCommitment(address client, uint256 got);
    error InvalidProof(address verifier);
    error NoAcceptedUpdates(uint256 round);
    error SlotMismatch(uint256 round, uint256 slot, uint256 expected, uint256 got);
    error PendingSubmission(uint256 round, address client, uint256 withdrawableAfter);
    error InsufficientRewardPool(uint256 available, uint256 owed);
    error TransferFailed(address to, uint256 amount);
    error ZeroAddress();
    error InvalidConfig(string what);

    // ------------------------------------------------------------------ events

    event FederationCreated(
        address indexed owner,
        address clientVerifier,
        address aggregatorVerifier,
        uint256 slots,
        bytes32 circuitsDigest
    );
    event RoundOpened(uint256 indexed round, uint256 modelHash, string modelCid, uint256 deadline);
    event ClientRegistered(address indexed client, uint256 slot, uint256 stake);
    event DataCommitted(address indexed client, uint256[] dataCommitments);
    event ClientWithdrawn(address indexed client, uint256 slot, uint256 stakeReturned);
    event UpdateAccepted(
        uint256 indexed round, address indexed client, uint256 slot, uint256 updateHash, string cid
    );
    event RoundFinalized(uint256 indexed round, uint256 nextModelHash, string nextModelCid, uint256 acceptedUpdates);
    event AggregatorChanged(address indexed previous, address indexed current);
    event RewardPoolFunded(address indexed from, uint256 amount, uint256 pool);
    event RewardPaid(address indexed client, uint256 amount);

    // ------------------------------------------------------------------ configuration

    address public immutable owner;
    IHalo2Verifier public immutable clientVerifier;
    IHalo2Verifier public immutable aggregatorVerifier;
    /// @notice Number of FedAvg slots K (the aggregation circuit's input count).
    uint256 public immutable slots;
    /// @notice H(0^(P+1)): the hash an empty slot must carry in the aggregation proof.
    uint256 public immutable emptySlotHash;
    /// @notice SHA-256 of the federation manifest (zkfl.manifest): the CIDs of both circuits'
    ///         settings, verification keys and verifier SRS, and the SRS hash. It is also the
    ///         digest inside the manifest's CID, so an auditor fetches exactly these artifacts.
    bytes32 public immutable circuitsDigest;
    uint256 public immutable stakeAmount;
    uint256 public immutable rewardPerUpdate;
    /// @notice Blocks a round stays open for submissions.
    uint64 public immutable submissionWindow;
    /// @notice Blocks after a round's deadline during which a client whose update waits in that
    ///         round cannot withdraw: the aggregator's time to finalize. Past it, a stalled
    ///         aggregation no longer locks anyone's stake.
    uint64 public immutable finalizationGrace;

    // ------------------------------------------------------------------ state

    address public aggregator;
    uint256 public currentRound;
    uint256 public registeredClients;
    uint256 public rewardPool;

    mapping(uint256 => Round) private _rounds;
    /// @dev round => slot => accepted update hash (0: no accepted update)
    mapping(uint256 => mapping(uint256 => uint256)) private _updateHashes;
    mapping(address => Client) private _clients;
    mapping(uint256 => address) public slotOwner;
    mapping(uint256 => DataBatch) private _batches;

    /// @param clientVerifier_ ezkl verifier of the training-step circuit (3 public instances).
    /// @param aggregatorVerifier_ ezkl verifier of the FedAvg circuit (slots_ + 1 instances).
    /// @param aggregator_ The account allowed to finalize rounds.
    /// @param slots_ FedAvg slots K, at most 255.
    /// @param emptySlotHash_ H(0^(P+1)).
    /// @param genesisModelHash H(genesis weights).
    /// @param genesisModelCid Content identifier of the genesis weights.
    /// @param circuitsDigest_ SHA-256 of the federation manifest.
    /// @param terms Stake, reward per accepted update, submission window and finalization grace.
    constructor(
        IHalo2Verifier clientVerifier_,
        IHalo2Verifier aggregatorVerifier_,
        address aggregator_,
        uint256 slots_,
        uint256 emptySlotHash_,
        uint256 genesisModelHash,
        string memory genesisModelCid,
        bytes32 circuitsDigest_,
        Terms memory terms
    ) {
        if (address(clientVerifier_) == address(0) || address(aggregatorVerifier_) == address(0)) revert ZeroAddress();
        if (aggregator_ == address(0)) revert ZeroAddress();
        if (slots_ == 0 || slots_ > type(uint8).max) revert InvalidConfig("slots must be in 1..255");
        if (terms.submissionWindow == 0) revert InvalidConfig("submission window must be at least one block");
        owner = msg.sender;
        clientVerifier = clientVerifier_;
        aggregatorVerifier = aggregatorVerifier_;
        aggregator = aggregator_;
        slots = slots_;
        emptySlotHash = emptySlotHash_;
        circuitsDigest = circuitsDigest_;
        stakeAmount = terms.stakeAmount;
        rewardPerUpdate = terms.rewardPerUpdate;
        submissionWindow = terms.submissionWindow;
        finalizationGrace = terms.finalizationGrace;
        emit FederationCreated(msg.sender, address(clientVerifier_), address(aggregatorVerifier_), slots_, circuitsDigest_);
        emit AggregatorChanged(address(0), aggregator_);
        _openRound(0, genesisModelHash, genesisModelCid);
    }

    // ------------------------------------------------------------------ administration

    /// @notice Hand the aggregator role to another account.
    function setAggregator(address next) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        if (next == address(0)) revert ZeroAddress();
        emit AggregatorChanged(aggregator, next);
        aggregator = next;
    }

    /// @notice Add wei to the pool that pays rewards for accepted updates.
    function fundRewards() external payable {
        rewardPool += msg.value;
        emit RewardPoolFunded(msg.sender, msg.value, rewardPool);
    }

    // ------------------------------------------------------------------ clients

    /// @notice Join the federation with the stake and salted Poseidon commitments to the data
    ///         batches you will train on.
    /// @param dataCommitments H(batch) for each batch, exactly as it will appear in your
    ///        training-step proofs (one batch per round, each usable once).
    function register(uint256[] calldata dataCommitments) external payable {
        if (_clients[msg.sender].registered) revert AlreadyRegistered(msg.sender);
        if (msg.value != stakeAmount) revert WrongStake(stakeAmount, msg.value);
        uint256 slot = _freeSlot();
        Client storage client = _clients[msg.sender]; // reward counters survive a re-registration
        client.registered = true;
        client.slot = uint8(slot);
        client.stake = msg.value;
        slotOwner[slot] = msg.sender;
        registeredClients += 1;
        emit ClientRegistered(msg.sender, slot, msg.value);
        _commit(dataCommitments);
    }

    /// @notice Commit more data batches (for later rounds) as a registered client.
    /// @param dataCommitments H(batch) of each new batch.
    function commitData(uint256[] calldata dataCommitments) external {
        if (!_clients[msg.sender].registered) revert NotRegistered(msg.sender);
        _commit(dataCommitments);
    }

    /// @notice Leave the federation: frees the slot and returns the stake. While an update of
    ///         yours waits in the open round, only once that round is `finalizationGrace` blocks
    ///         past its deadline: the aggregator gets that long to finalize, and a stalled
    ///         aggregation never locks a stake forever. The update stays in the round (it was
    ///         verified when accepted), so a late aggregation still counts it.
    function withdraw() external {
        Client memory client = _clients[msg.sender];
        if (!client.registered) revert NotRegistered(msg.sender);
        uint256 round = currentRound;
        if (_updateHashes[round][client.slot] != 0) {
            uint256 withdrawableAfter = uint256(_rounds[round].deadline) + finalizationGrace;
            if (block.number <= withdrawableAfter) revert PendingSubmission(round, msg.sender, withdrawableAfter);
        }
        delete slotOwner[client.slot];
        registeredClients -= 1;
        _clients[msg.sender].registered = false;
        _clients[msg.sender].stake = 0;
        emit ClientWithdrawn(msg.sender, client.slot, client.stake);
        _pay(msg.sender, client.stake);
    }

    /// @notice Pay out the rewards owed to the caller for its accepted updates.
    function claimRewards() external {
        Client storage client = _clients[msg.sender];
        uint256 amount = rewardsOwed(msg.sender);
        if (amount > rewardPool) revert InsufficientRewardPool(rewardPool, amount);
        client.paidUpdates = client.acceptedUpdates;
        rewardPool -= amount;
        emit RewardPaid(msg.sender, amount);
        _pay(msg.sender, amount);
    }

    /// @notice Submit a proven local update for the open round.
    /// @param round The round the update is for (must be the open one).
    /// @param proof ezkl proof bytes of the training-step circuit.
    /// @param instances [H(global), H(data), H(update)]; H(data) must be an unused batch
    ///        commitment of the sender.
    /// @param cid Content identifier of the update vector (weights then sample count).
    function submitUpdate(uint256 round, bytes calldata proof, uint256[] calldata instances, string calldata cid) external {
        Round storage open = _checkOpenRound(round);
        if (block.number > open.deadline) revert SubmissionClosed(round, open.deadline, block.number);
        Client storage client = _clients[msg.sender];
        if (!client.registered) revert NotRegistered(msg.sender);
        if (_updateHashes[round][client.slot] != 0) revert AlreadySubmitted(round, msg.sender);
        if (instances.length != 3) revert WrongInstanceCount(3, instances.length);
        if (instances[0] != open.modelHash) revert WrongGlobalModel(round, open.modelHash, instances[0]);
        DataBatch storage batch = _batches[instances[1]];
        if (batch.owner != msg.sender) revert WrongDataCommitment(msg.sender, instances[1]);
        if (batch.used) revert DataCommitmentUsed(instances[1]);
        _verify(clientVerifier, proof, instances);

        batch.used = true;
        _updateHashes[round][client.slot] = instances[2];
        open.accepted += 1;
        client.acceptedUpdates += 1;
        emit UpdateAccepted(round, msg.sender, client.slot, instances[2], cid);
    }

    // ------------------------------------------------------------------ aggregation

    /// @notice Close the open round with a proven FedAvg of exactly its accepted updates.
    /// @dev Allowed once every registered client has submitted, or after the deadline.
    /// @param round The open round.
    /// @param proof ezkl proof bytes of the FedAvg circuit.
    /// @param instances [H(slot_0) .. H(slot_{K-1}), H(next global)]; empty slots carry emptySlotHash.
    /// @param cid Content identifier of the next global weights.
    function finalizeRound(uint256 round, bytes calldata proof, uint256[] calldata instances, string calldata cid) external {
        if (msg.sender != aggregator) revert NotAggregator(msg.sender);
        Round storage open = _checkOpenRound(round);
        if (open.accepted == 0) revert NoAcceptedUpdates(round);
        if (open.accepted < registeredClients && block.number <= open.deadline) {
            revert SubmissionStillOpen(round, open.deadline, block.number);
        }
        uint256 k = slots;
        if (instances.length != k + 1) revert WrongInstanceCount(k + 1, instances.length);
        for (uint256 slot = 0; slot < k; ++slot) {
            uint256 accepted = _updateHashes[round][slot];
            uint256 expected = accepted == 0 ? emptySlotHash : accepted;
            if (instances[slot] != expected) revert SlotMismatch(round, slot, expected, instances[slot]);
        }
        _verify(aggregatorVerifier, proof, instances);

        open.finalized = true;
        emit RoundFinalized(round, instances[k], cid, open.accepted);
        _openRound(round + 1, instances[k], cid);
    }

    // ------------------------------------------------------------------ views

    /// @notice A round's global model hash, deadline, accepted count and status.
    function getRound(uint256 round) external view returns (Round memory) {
        return _rounds[round];
    }

    /// @notice The accepted update hash in a slot of a round (0 if none).
    function acceptedUpdateHash(uint256 round, uint256 slot) external view returns (uint256) {
        return _updateHashes[round][slot];
    }

    /// @notice Wei owed to `account` for accepted updates not yet paid out.
    function rewardsOwed(address account) public view returns (uint256) {
        Client storage client = _clients[account];
        return uint256(client.acceptedUpdates - client.paidUpdates) * rewardPerUpdate;
    }

    function getClient(address account) external view returns (Client memory) {
        return _clients[account];
    }

    /// @notice Who committed a data batch (zero address: nobody) and whether a proof consumed it.
    function dataBatch(uint256 dataCommitment) external view returns (DataBatch memory) {
        return _batches[dataCommitment];
    }

    /// @notice The global model hash of the open round.
    function currentModelHash() external view returns (uint256) {
        return _rounds[currentRound].modelHash;
    }

    // ------------------------------------------------------------------ internals

    function _openRound(uint256 round, uint256 modelHash, string memory modelCid) private {
        uint64 deadline = uint64(block.number) + submissionWindow;
        _rounds[round] = Round({modelHash: modelHash, deadline: deadline, accepted: 0, finalized: false});
        currentRound = round;
        emit RoundOpened(round, modelHash, modelCid, deadline);
    }

    /// @dev The current round is always the open one: finalizing opens the next.
    function _checkOpenRound(uint256 round) private view returns (Round storage) {
        if (round != currentRound) revert WrongRound(currentRound, round);
        return _rounds[round];
    }

    /// @dev Bounded by the caller's own calldata; each commitment is claimed by its first committer.
    function _commit(uint256[] calldata dataCommitments) private {
        if (dataCommitments.length == 0) revert NoDataCommitments();
        for (uint256 i = 0; i < dataCommitments.length; ++i) {
            DataBatch storage batch = _batches[dataCommitments[i]];
            if (batch.owner != address(0)) revert DataCommitmentTaken(dataCommitments[i]);
            batch.owner = msg.sender;
        }
        emit DataCommitted(msg.sender, dataCommitments);
    }

    function _freeSlot() private view returns (uint256) {
        uint256 k = slots;
        for (uint256 slot = 0; slot < k; ++slot) {
            if (slotOwner[slot] == address(0)) return slot;
        }
        revert FederationFull(k);
    }

    /// @dev A verifier that reverts or returns false both mean: not a valid proof. But running out
    ///      of gas is no verdict on the proof: a verifier that used up all but the 1/64 of the gas
    ///      EIP-150 keeps back for the caller, or that says so itself (VerifierOutOfGas, as the
    ///      reusable-verifier adapter does), makes the call revert with VerifierOutOfGas.
    function _verify(IHalo2Verifier verifier, bytes calldata proof, uint256[] calldata instances) private view {
        uint256 gasBefore = gasleft();
        try verifier.verifyProof(proof, instances) returns (bool ok) {
            if (!ok) revert InvalidProof(address(verifier));
        } catch (bytes memory reason) {
            if (gasleft() <= gasBefore / 63 || bytes4(reason) == VerifierOutOfGas.selector) {
                revert VerifierOutOfGas(address(verifier));
            }
            revert InvalidProof(address(verifier));
        }
    }

    function _pay(address to, uint256 amount) private {
        if (amount == 0) return;
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
