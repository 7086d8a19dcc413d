// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IHalo2Verifier, VerifierOutOfGas} from "./IHalo2Verifier.sol";

/// @title zkFL round coordinator
/// @notice Runs a verifiable federated-learning federation. Clients register with a stake and
///         salted commitments to the data batches they will train on (one batch per round, each
///         used once); each round they submit a proven local training step from the round's
///         global model on one of their committed batches; the aggregator submits a proven FedAvg of exactly the accepted
///         updates, which becomes the next global model. Nothing unproven or unlinked is accepted.
/// @dev Proof links are KZG commitments (ezkl `polycommit`): the proofs have no public instances,
///      and the commitments of a circuit's inputs, then outputs, are the first 64-byte BN254 points
///      of its proof bytes, which the verifier checks. The contract stores keccak256 of a point (a
///      "hash" below):
///      client proof    [C(global), C(data), C(context), C(update)]
///      aggregation     [C(input_0) .. C(input_{R-1}), C(next global)]
///      leaf            [C(slot_{lG}) .. C(slot_{lG+G-1}), C(partial sum)]
///      Aggregation is a tree. Flat (`leafSlots` 0, depth 1): the root FedAvg proof consumes the
///      K client slots. Depth 2: client slot s belongs to leaf s / G; anyone may prove a leaf (its
///      output, the exact sum of its G slots, is fixed by them), and the root consumes the R = K / G
///      leaf outputs. A slot without an accepted update must carry `emptySlotHash` (the commitment
///      of the all-zero update, which FedAvg leaves out by its zero sample count); so must a leaf
///      without one (the sum of empty slots is that same zero vector), and only such a leaf.
///      Binding of a proof to its sender and federation: the context input of a client proof is
///      keccak256(chainid, federationId, sender) cut into CONTEXT_LEN field elements, and the
///      contract computes its commitment (`contextHashOf`) from the sender with the EC
///      precompiles, so a proof made for another account, federation or chain is rejected. A data
///      commitment is the sender's own (another account claiming it locks nobody out), is used once,
///      and a proof is bound to its round through the round's global model. Committing the batches
///      before training means a client cannot pick its data after seeing the model.
contract Coordinator {
    // ------------------------------------------------------------------ types

    /// @notice How client proofs are checked, fixed at deployment. Eager (`enabled` false): the
    ///         verifier runs on every submission. Optimistic: a submission carries the proof's
    ///         commitments and the SHA-256 of its bytes, which the client puts in the store (their
    ///         CIDv1 raw sha2-256 follows from that hash); every link is checked at once, the proof
    ///         only when someone challenges it, until `challengeWindow` blocks after the deadline.
    /// @param challengeWindow Blocks after a round's deadline in which its updates can be challenged.
    /// @param challengeBond Wei a challenger posts; it goes to the client if the proof is valid.
    /// @param challengerShareBps Part of a slashed stake paid to the challenger, in basis points;
    ///        the rest goes to the reward pool.
    struct Optimism {
        bool enabled;
        uint64 challengeWindow;
        uint256 challengeBond;
        uint16 challengerShareBps;
    }

    /// @notice A federation's economic and timing terms, fixed at deployment.
    /// @param stakeAmount Wei a client stakes to register (returned on withdrawal).
    /// @param rewardPerUpdate Wei owed to a client per accepted update, paid from the pool.
    /// @param submissionWindow Blocks each round accepts submissions.
    /// @param finalizationGrace Blocks after a deadline before a client with a pending update may withdraw.
    /// @param optimism Eager or optimistic verification of client proofs, with the challenge terms.
    struct Terms {
        uint256 stakeAmount;
        uint256 rewardPerUpdate;
        uint64 submissionWindow;
        uint64 finalizationGrace;
        Optimism optimism;
    }

    /// @notice How rounds are aggregated: the root FedAvg circuit's verifier, and for a tree the
    ///         leaf circuit's verifier and its inputs G (flat: zero and 0).
    struct Aggregation {
        IHalo2Verifier rootVerifier;
        IHalo2Verifier leafVerifier;
        uint256 leafSlots;
    }

    /// @dev One storage word for the hot fields; rewards owed = (accepted - paid) * rewardPerUpdate.
    ///      contextHash: keccak256 of C(context) for this account (`contextHashOf`), set at registration.
    struct Client {
        bool registered;
        uint32 slot;
        uint64 acceptedUpdates;
        uint64 paidUpdates;
        uint256 stake;
        uint256 contextHash;
    }

    /// @dev A client's committed data batch: committed, and whether a proof has consumed it.
    struct DataBatch {
        bool committed;
        bool used;
    }

    /// @notice What the coordinator needs to commit to a context vector: C(0) and, per element j,
    ///         C(e_j) - C(0), as (x, y) points of the client circuit's commitment scheme.
    struct ContextKey {
        uint256[2] base;
        uint256[2][5] basis;
    }

    /// @dev CIDs are not stored: they travel in events (RoundOpened, UpdateAccepted), which is
    ///      where the aggregator and auditors read them, and storing ~60-byte strings would cost
    ///      ~66k gas per submission.
    struct Round {
        uint256 modelHash;
        uint64 deadline; // last block number at which submissions are accepted
        uint32 accepted;
        bool finalized;
    }

    // ------------------------------------------------------------------ errors

    error NotOwner(address caller);
    error NotAggregator(address caller);
    error WrongStake(uint256 required, uint256 sent);
    error AlreadyRegistered(address client);
    error NotRegistered(address client);
    error DataAlreadyCommitted(address client, uint256 dataCommitment);
    error DataCommitmentUsed(uint256 dataCommitment);
    error NoDataCommitments();
    error FederationFull(uint256 slots);
    error WrongRound(uint256 current, uint256 given);
    error SubmissionClosed(uint256 round, uint256 deadline, uint256 blockNumber);
    error SubmissionStillOpen(uint256 round, uint256 deadline, uint256 blockNumber);
    error AlreadySubmitted(uint256 round, address client);
    error ProofTooShort(uint256 length, uint256 required);
    error WrongGlobalModel(uint256 round, uint256 expected, uint256 got);
    error WrongDataCommitment(address client, uint256 got);
    error WrongContext(address client, uint256 expected, uint256 got);
    error InvalidContextKey();
    error InvalidProof(address verifier);
    error NoAcceptedUpdates(uint256 round);
    error SlotMismatch(uint256 round, uint256 slot, uint256 expected, uint256 got);
    error PendingSubmission(uint256 round, address client, uint256 withdrawableAfter);
    error InsufficientRewardPool(uint256 available, uint256 owed);
    error TransferFailed(address to, uint256 amount);
    error ZeroAddress();
    error InvalidConfig(string what);
    error WrongVerificationMode(bool optimistic);
    error WrongBond(uint256 required, uint256 sent);
    error NothingToChallenge(uint256 round, uint256 slot);
    error ChallengeWindowClosed(uint256 round, uint256 closedAt, uint256 blockNumber);
    error ChallengeWindowOpen(uint256 round, uint256 closesAt, uint256 blockNumber);
    error ClaimMismatch(uint256 round, uint256 slot);
    error AlreadyDefended(uint256 round, uint256 slot);
    error ProofRequestPending(uint256 round, uint256 slot, uint256 revealBy);
    error NoProofRequest(uint256 round, uint256 slot);
    error RevealWindowClosed(uint256 round, uint256 slot, uint256 revealBy, uint256 blockNumber);
    error RevealWindowOpen(uint256 round, uint256 slot, uint256 revealBy, uint256 blockNumber);
    error ProofRequestsOpen(uint256 round, uint256 open);
    error NotATree();
    error NoSuchLeaf(uint256 leaf, uint256 leaves);
    error EmptyLeaf(uint256 round, uint256 leaf);
    error LeafAlreadyAggregated(uint256 round, uint256 leaf);
    error LeafNotAggregated(uint256 round, uint256 leaf);

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
    /// @notice A leaf of the aggregation tree was proven: its partial sum (weights and sample
    ///         counts of its `acceptedUpdates` updates) is in the store under `cid`.
    event LeafAggregated(
        uint256 indexed round, uint256 indexed leaf, address indexed prover, uint256 partialHash, string cid, uint256 acceptedUpdates
    );
    /// @notice An optimistic submission's proof: its bytes are in the store under CIDv1 (raw,
    ///         sha2-256) of `proofSha256`; its commitments are the submission's calldata.
    event ProofPending(uint256 indexed round, uint256 slot, bytes32 proofSha256);
    /// @notice A challenged proof did not verify (or was not the claimed one): the update left the
    ///         round, and its client was slashed and deregistered (its slot freed).
    event UpdateSlashed(
        uint256 indexed round, uint256 slot, address indexed client, address challenger, uint256 stake, uint256 toChallenger
    );
    /// @notice A challenged proof verified: the challenger's bond went to the client.
    event ChallengeFailed(uint256 indexed round, uint256 slot, address indexed client, address challenger, uint256 bond);
    /// @notice A proof missing from the store was requested: anyone holding its bytes must reveal
    ///         them on-chain by block `revealBy`, or its client is slashed.
    event ProofRequested(uint256 indexed round, uint256 slot, address requester, uint256 revealBy);

    // ------------------------------------------------------------------ configuration

    /// @notice Elements of a client proof's context input, and the bits of each.
    uint256 public constant CONTEXT_LEN = 5;
    uint256 public constant CONTEXT_BITS = 24;
    uint256 private constant POINT_BYTES = 64;
    uint256 private constant CLIENT_POINTS = 4;

    address public immutable owner;
    IHalo2Verifier public immutable clientVerifier;
    IHalo2Verifier public immutable aggregatorVerifier;
    /// @notice Number of client slots K: at most K clients are registered at once.
    uint256 public immutable slots;
    /// @notice G: client slots per leaf of the aggregation tree (the leaf circuit's input count);
    ///         0 for a flat federation, whose root FedAvg proof consumes the slots themselves.
    uint256 public immutable leafSlots;
    /// @notice ezkl verifier of the leaf (partial-sum) circuit; zero for a flat federation.
    IHalo2Verifier public immutable leafVerifier;
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
    /// @notice This federation's identifier inside every client proof's context (with the chain
    ///         id and the sender), so a proof made for another federation is rejected here.
    bytes32 public immutable federationId;
    /// @notice Optimistic verification (see `Optimism`); false: every proof is verified on submission.
    bool public immutable optimistic;
    uint64 public immutable challengeWindow;
    uint256 public immutable challengeBond;
    uint16 public immutable challengerShareBps;

    // ------------------------------------------------------------------ state

    address public aggregator;
    uint256 public currentRound;
    uint256 public registeredClients;
    uint256 public rewardPool;

    mapping(uint256 => Round) private _rounds;
    /// @dev round => slot => accepted update hash (0: no accepted update)
    mapping(uint256 => mapping(uint256 => uint256)) private _updateHashes;
    /// @dev Tree federations: round => leaf => accepted updates in its slots, and the hash of its
    ///      proven partial sum (0: not proven since its updates last changed).
    mapping(uint256 => mapping(uint256 => uint256)) private _leafAccepted;
    mapping(uint256 => mapping(uint256 => uint256)) private _leafOutputs;
    /// @dev Occupied slots, one bit each (256 slots a word), so registration finds the lowest
    ///      free slot in K / 256 reads, not K.
    mapping(uint256 => uint256) private _occupied;
    mapping(address => Client) private _clients;
    mapping(uint256 => address) public slotOwner;
    mapping(address => mapping(uint256 => DataBatch)) private _batches;
    ContextKey private _contextKey;
    /// @dev Optimistic mode: round => slot => keccak256(abi.encode(proofSha256, keccak256(commitments),
    ///      submitter)) of an accepted update not yet proven on-chain.
    mapping(uint256 => mapping(uint256 => bytes32)) private _claims;
    /// @dev A slot's disputes, in one word: an open request for a proof whose bytes nobody could
    ///      fetch (who posted the bond, the last block to reveal by), and whether its proof was
    ///      already challenged and verified (a second challenge is refused).
    struct Dispute {
        address requester;
        uint64 revealBy;
        bool defended;
    }

    /// @dev round => slot => its dispute; round => how many proof requests are open (finalization waits).
    mapping(uint256 => mapping(uint256 => Dispute)) private _disputes;
    mapping(uint256 => uint256) private _openRequests;

    /// @param clientVerifier_ ezkl verifier of the training-step circuit.
    /// @param aggregation The root FedAvg circuit's verifier (slots_ inputs when flat, slots_ /
    ///        leafSlots for a tree), and the leaf circuit's verifier and inputs ((0, 0): flat).
    /// @param aggregator_ The account allowed to finalize rounds.
    /// @param slots_ Client slots K, at most 2^32 - 1 (a multiple of aggregation.leafSlots).
    /// @param emptySlotHash_ keccak256 of C(0^(P+1)).
    /// @param genesisModelHash keccak256 of C(genesis weights).
    /// @param genesisModelCid Content identifier of the genesis weights.
    /// @param circuitsDigest_ SHA-256 of the federation manifest.
    /// @param terms Stake, reward per accepted update, submission window, finalization grace, and
    ///        the verification mode.
    /// @param federationId_ This federation's identifier in client proofs' context.
    /// @param contextKey The points to commit to a context vector with (checked to be on the curve).
    constructor(
        IHalo2Verifier clientVerifier_,
        Aggregation memory aggregation,
        address aggregator_,
        uint256 slots_,
        uint256 emptySlotHash_,
        uint256 genesisModelHash,
        string memory genesisModelCid,
        bytes32 circuitsDigest_,
        Terms memory terms,
        bytes32 federationId_,
        ContextKey memory contextKey
    ) {
        IHalo2Verifier aggregatorVerifier_ = aggregation.rootVerifier;
        if (address(clientVerifier_) == address(0) || address(aggregatorVerifier_) == address(0)) revert ZeroAddress();
        if (aggregator_ == address(0)) revert ZeroAddress();
        if (slots_ == 0 || slots_ > type(uint32).max) revert InvalidConfig("slots must be in 1..2^32-1");
        if ((aggregation.leafSlots == 0) != (address(aggregation.leafVerifier) == address(0))) {
            revert InvalidConfig("a tree needs both a leaf verifier and leaf slots; a flat federation neither");
        }
        if (aggregation.leafSlots != 0 && (slots_ % aggregation.leafSlots != 0 || slots_ == aggregation.leafSlots)) {
            revert InvalidConfig("slots must be a multiple of leaf slots, with at least two leaves");
        }
        if (terms.submissionWindow == 0) revert InvalidConfig("submission window must be at least one block");
        Optimism memory optimism = terms.optimism;
        if (optimism.enabled) {
            if (optimism.challengeWindow == 0) revert InvalidConfig("challenge window must be at least one block");
            if (optimism.challengeBond == 0) revert InvalidConfig("challenge bond must be positive");
            if (optimism.challengerShareBps > 10_000) revert InvalidConfig("challenger share is at most 10000 bps");
        }
        owner = msg.sender;
        clientVerifier = clientVerifier_;
        aggregatorVerifier = aggregatorVerifier_;
        aggregator = aggregator_;
        slots = slots_;
        leafSlots = aggregation.leafSlots;
        leafVerifier = aggregation.leafVerifier;
        emptySlotHash = emptySlotHash_;
        circuitsDigest = circuitsDigest_;
        stakeAmount = terms.stakeAmount;
        rewardPerUpdate = terms.rewardPerUpdate;
        submissionWindow = terms.submissionWindow;
        finalizationGrace = terms.finalizationGrace;
        federationId = federationId_;
        optimistic = optimism.enabled;
        challengeWindow = optimism.enabled ? optimism.challengeWindow : 0;
        challengeBond = optimism.enabled ? optimism.challengeBond : 0;
        challengerShareBps = optimism.enabled ? optimism.challengerShareBps : 0;
        _contextKey = contextKey;
        contextHashOf(msg.sender); // reverts with InvalidContextKey unless every point is on the curve
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

    /// @notice Join the federation with the stake and salted commitments to the data batches you
    ///         will train on.
    /// @param dataCommitments keccak256 of C(batch) for each batch, exactly as it will appear in
    ///        your training-step proofs (one batch per round, each usable once).
    function register(uint256[] calldata dataCommitments) external payable {
        if (_clients[msg.sender].registered) revert AlreadyRegistered(msg.sender);
        if (msg.value != stakeAmount) revert WrongStake(stakeAmount, msg.value);
        uint256 slot = _lowestFreeSlot();
        Client storage client = _clients[msg.sender]; // reward counters survive a re-registration
        client.registered = true;
        client.slot = uint32(slot);
        client.stake = msg.value;
        client.contextHash = contextHashOf(msg.sender);
        slotOwner[slot] = msg.sender;
        _occupied[slot >> 8] |= 1 << (slot & 0xff);
        registeredClients += 1;
        emit ClientRegistered(msg.sender, slot, msg.value);
        _commit(dataCommitments);
    }

    /// @notice Commit more data batches (for later rounds) as a registered client.
    /// @param dataCommitments keccak256 of C(batch) of each new batch.
    function commitData(uint256[] calldata dataCommitments) external {
        if (!_clients[msg.sender].registered) revert NotRegistered(msg.sender);
        _commit(dataCommitments);
    }

    /// @notice Leave the federation: frees the slot and returns the stake. While an update of
    ///         yours waits in the open round, only once that round is `finalizationGrace` blocks
    ///         past its deadline (and its challenge window): the aggregator gets that long to finalize, and a stalled
    ///         aggregation never locks a stake forever. The update stays in the round (it was
    ///         verified when accepted), so a late aggregation still counts it.
    function withdraw() external {
        Client memory client = _clients[msg.sender];
        if (!client.registered) revert NotRegistered(msg.sender);
        uint256 round = currentRound;
        if (_updateHashes[round][client.slot] != 0) {
            uint256 withdrawableAfter = uint256(_rounds[round].deadline) + challengeWindow + finalizationGrace;
            if (block.number <= withdrawableAfter) revert PendingSubmission(round, msg.sender, withdrawableAfter);
            Dispute memory request = _disputes[round][client.slot];
            if (request.requester != address(0)) revert ProofRequestPending(round, client.slot, request.revealBy);
        }
        _freeSlot(client.slot);
        registeredClients -= 1;
        _clients[msg.sender].registered = false;
        _clients[msg.sender].stake = 0;
        emit ClientWithdrawn(msg.sender, client.slot, client.stake);
        _pay(msg.sender, client.stake);
    }

    /// @notice Pay out the rewards owed to the caller for its accepted updates.
    function claimRewards() external {
        Client storage client = _clients[msg.sender];
        uint256 updates = _unpaidUpdates(msg.sender);
        uint256 amount = updates * rewardPerUpdate;
        if (amount > rewardPool) revert InsufficientRewardPool(rewardPool, amount);
        client.paidUpdates += uint64(updates);
        rewardPool -= amount;
        emit RewardPaid(msg.sender, amount);
        _pay(msg.sender, amount);
    }

    /// @notice Submit a proven local update for the open round (eager federations).
    /// @param round The round the update is for (must be the open one).
    /// @param proof ezkl proof bytes of the training-step circuit: its commitments
    ///        [C(global), C(data), C(context), C(update)] first. C(data) must be an unused batch
    ///        commitment of the sender and C(context) the sender's (`contextHashOf`).
    /// @param cid Content identifier of the update vector (weights then sample count).
    function submitUpdate(uint256 round, bytes calldata proof, string calldata cid) external {
        if (optimistic) revert WrongVerificationMode(true);
        (Client storage client, DataBatch storage batch, uint256 update) = _checkLinks(round, proof);
        _verify(clientVerifier, proof);
        _accept(round, client, batch, update, cid);
    }

    /// @notice Submit a local update for the open round without its proof (optimistic federations):
    ///         every link is checked now; the proof, whose bytes the client has put in the store,
    ///         is verified only if the update is challenged.
    /// @param round The round the update is for (must be the open one).
    /// @param commitments The proof's first CLIENT_POINTS commitments, exactly as in its bytes.
    /// @param proofSha256 SHA-256 of the proof bytes (their CID is CIDv1 raw sha2-256 of them).
    /// @param cid Content identifier of the update vector.
    function submitUpdateOptimistic(uint256 round, bytes calldata commitments, bytes32 proofSha256, string calldata cid)
        external
    {
        if (!optimistic) revert WrongVerificationMode(false);
        (Client storage client, DataBatch storage batch, uint256 update) = _checkLinks(round, commitments);
        _claims[round][client.slot] = _claim(proofSha256, keccak256(commitments), msg.sender);
        _accept(round, client, batch, update, cid);
        emit ProofPending(round, client.slot, proofSha256);
    }

    /// @notice Challenge an optimistically accepted update with its proof bytes, until
    ///         `challengeWindow` blocks after the round's deadline, posting `challengeBond`. The
    ///         coordinator runs the verifier. Not valid (or not the claimed commitments): the update
    ///         leaves the round, its client is deregistered and its stake slashed, the challenger
    ///         gets the bond back and `challengerShareBps` of the stake, the reward pool the rest.
    ///         Valid: the bond goes to the client.
    /// @param round The update's round (the open one: a finalized round's window has closed).
    /// @param slot Its slot; the slot's client submitted it (it cannot leave while challengeable).
    /// @param commitmentsHash keccak256 of the commitments it was submitted with.
    /// @param proof The proof bytes (from the store), whose SHA-256 the submission gave.
    function challenge(uint256 round, uint256 slot, bytes32 commitmentsHash, bytes calldata proof) external payable {
        Dispute memory request = _checkChallengeable(round, slot);
        if (request.requester != address(0)) revert ProofRequestPending(round, slot, request.revealBy);
        _settle(round, slot, commitmentsHash, proof, msg.sender, msg.value);
    }

    /// @notice Request the proof of an optimistically accepted update whose bytes are not in the
    ///         store (so nobody can challenge it), posting `challengeBond`, in the challenge window.
    ///         Anyone holding the bytes must `revealProof` within `challengeWindow` blocks; if nobody
    ///         does, `slashUnrevealed` slashes the client as for an invalid proof. The round cannot be
    ///         finalized while a request is open.
    function requestProof(uint256 round, uint256 slot) external payable {
        Dispute memory request = _checkChallengeable(round, slot);
        if (request.requester != address(0)) revert ProofRequestPending(round, slot, request.revealBy);
        uint64 revealBy = uint64(block.number) + challengeWindow;
        _disputes[round][slot] = Dispute(msg.sender, revealBy, false);
        _openRequests[round] += 1;
        emit ProofRequested(round, slot, msg.sender, revealBy);
    }

    /// @notice Reveal a requested proof (anyone may): the coordinator runs the verifier, exactly as
    ///         for a challenge by the requester, whose bond goes to the client if the proof is valid.
    function revealProof(uint256 round, uint256 slot, bytes32 commitmentsHash, bytes calldata proof) external {
        Dispute memory request = _disputes[round][slot];
        if (request.requester == address(0)) revert NoProofRequest(round, slot);
        if (block.number > request.revealBy) revert RevealWindowClosed(round, slot, request.revealBy, block.number);
        delete _disputes[round][slot];
        _openRequests[round] -= 1;
        _settle(round, slot, commitmentsHash, proof, request.requester, challengeBond);
    }

    /// @notice Slash the client of a requested proof nobody revealed in time.
    function slashUnrevealed(uint256 round, uint256 slot) external {
        Dispute memory request = _disputes[round][slot];
        if (request.requester == address(0)) revert NoProofRequest(round, slot);
        if (block.number <= request.revealBy) revert RevealWindowOpen(round, slot, request.revealBy, block.number);
        delete _disputes[round][slot];
        _openRequests[round] -= 1;
        _slash(round, slot, slotOwner[slot], request.requester, challengeBond);
    }

    // ------------------------------------------------------------------ aggregation

    /// @notice Prove a leaf of the aggregation tree (tree federations; anyone may): the exact sum
    ///         of the leaf's slots, each its accepted update or the empty slot. Allowed when the
    ///         round could be finalized, for a leaf with at least one accepted update; a leaf whose
    ///         updates change afterwards must be proven again.
    /// @param round The open round.
    /// @param leaf The leaf: it consumes slots leaf * leafSlots .. (leaf + 1) * leafSlots - 1.
    /// @param proof ezkl proof bytes of the leaf circuit: [C(slot inputs) .., C(partial sum)] first.
    /// @param cid Content identifier of the partial sum vector (weights then sample count, summed).
    function aggregateLeaf(uint256 round, uint256 leaf, bytes calldata proof, string calldata cid) external {
        uint256 g = leafSlots;
        if (g == 0) revert NotATree();
        _checkAggregatable(round);
        if (leaf >= slots / g) revert NoSuchLeaf(leaf, slots / g);
        uint256 accepted = _leafAccepted[round][leaf];
        if (accepted == 0) revert EmptyLeaf(round, leaf);
        if (_leafOutputs[round][leaf] != 0) revert LeafAlreadyAggregated(round, leaf);
        _checkConsumed(round, proof, g, leaf * g, false);
        _verify(leafVerifier, proof);

        uint256 partialHash = _pointHash(proof, g);
        _leafOutputs[round][leaf] = partialHash;
        emit LeafAggregated(round, leaf, msg.sender, partialHash, cid, accepted);
    }

    /// @notice Close the open round with a proven FedAvg of exactly its accepted updates: of its
    ///         slots (flat), or of its leaves' proven partial sums (tree).
    /// @dev Eager: allowed once every registered client has submitted, or after the deadline.
    ///      Optimistic: allowed once the round's challenge window has closed.
    /// @param round The open round.
    /// @param proof ezkl proof bytes of the FedAvg circuit: its commitments
    ///        [C(input_0) .. C(input_{R-1}), C(next global)] first; empty slots and leaves carry
    ///        emptySlotHash.
    /// @param cid Content identifier of the next global weights.
    function finalizeRound(uint256 round, bytes calldata proof, string calldata cid) external {
        if (msg.sender != aggregator) revert NotAggregator(msg.sender);
        Round storage open = _checkAggregatable(round);
        uint256 inputs = leafSlots == 0 ? slots : slots / leafSlots;
        _checkConsumed(round, proof, inputs, 0, leafSlots != 0);
        _verify(aggregatorVerifier, proof);

        uint256 next = _pointHash(proof, inputs);
        open.finalized = true;
        emit RoundFinalized(round, next, cid, open.accepted);
        _openRound(round + 1, next, cid);
    }

    // ------------------------------------------------------------------ views

    /// @notice A round's global model hash, deadline, accepted count and status.
    function getRound(uint256 round) external view returns (Round memory) {
        return _rounds[round];
    }

    /// @notice The open proof request of a slot (requester zero: none).
    function proofRequest(uint256 round, uint256 slot) external view returns (address requester, uint64 revealBy) {
        Dispute memory dispute = _disputes[round][slot];
        return (dispute.requester, dispute.revealBy);
    }

    /// @notice The hash of a leaf's proven partial sum in a round (0: none proven for its current updates).
    function leafOutputHash(uint256 round, uint256 leaf) external view returns (uint256) {
        return _leafOutputs[round][leaf];
    }

    /// @notice How many accepted updates a leaf holds in a round.
    function leafAcceptedUpdates(uint256 round, uint256 leaf) external view returns (uint256) {
        return _leafAccepted[round][leaf];
    }

    /// @notice The accepted update hash in a slot of a round (0 if none).
    function acceptedUpdateHash(uint256 round, uint256 slot) external view returns (uint256) {
        return _updateHashes[round][slot];
    }

    /// @notice Wei owed to `account` for accepted updates not yet paid out.
    function rewardsOwed(address account) public view returns (uint256) {
        return _unpaidUpdates(account) * rewardPerUpdate;
    }

    function getClient(address account) external view returns (Client memory) {
        return _clients[account];
    }

    /// @notice Whether `client` committed a data batch and whether a proof consumed it.
    function dataBatch(address client, uint256 dataCommitment) external view returns (DataBatch memory) {
        return _batches[client][dataCommitment];
    }

    /// @notice keccak256 of C(context) for proofs that `account` submits here: the context is
    ///         keccak256(abi.encode(chainid, federationId, account)), its top CONTEXT_LEN *
    ///         CONTEXT_BITS bits cut into CONTEXT_LEN elements, committed as
    ///         C(0) + sum_j context_j * (C(e_j) - C(0)) (zkfl.protocol.context).
    function contextHashOf(address account) public view returns (uint256) {
        uint256 bits = uint256(keccak256(abi.encode(block.chainid, federationId, account))) >>
            (256 - CONTEXT_LEN * CONTEXT_BITS);
        uint256[2] memory acc = _contextKey.base;
        for (uint256 j = 0; j < CONTEXT_LEN; ++j) {
            uint256 element = (bits >> (CONTEXT_BITS * (CONTEXT_LEN - 1 - j))) & ((1 << CONTEXT_BITS) - 1);
            acc = _ecAdd(acc, _ecMul(_contextKey.basis[j], element));
        }
        return uint256(keccak256(abi.encode(acc[0], acc[1])));
    }

    /// @notice The global model hash of the open round.
    function currentModelHash() external view returns (uint256) {
        return _rounds[currentRound].modelHash;
    }

    // ------------------------------------------------------------------ internals

    /// @dev Every check of a submission but the proof's own: open round, deadline, registration,
    ///      one update per client, and the links of its leading commitments.
    function _checkLinks(uint256 round, bytes calldata proof)
        private
        view
        returns (Client storage client, DataBatch storage batch, uint256 update)
    {
        Round storage open = _checkOpenRound(round);
        if (block.number > open.deadline) revert SubmissionClosed(round, open.deadline, block.number);
        client = _clients[msg.sender];
        if (!client.registered) revert NotRegistered(msg.sender);
        if (_updateHashes[round][client.slot] != 0) revert AlreadySubmitted(round, msg.sender);
        if (proof.length < CLIENT_POINTS * POINT_BYTES) revert ProofTooShort(proof.length, CLIENT_POINTS * POINT_BYTES);
        uint256 model = _pointHash(proof, 0);
        if (model != open.modelHash) revert WrongGlobalModel(round, open.modelHash, model);
        uint256 data = _pointHash(proof, 1);
        batch = _batches[msg.sender][data];
        if (!batch.committed) revert WrongDataCommitment(msg.sender, data);
        if (batch.used) revert DataCommitmentUsed(data);
        uint256 context = _pointHash(proof, 2);
        if (context != client.contextHash) revert WrongContext(msg.sender, client.contextHash, context);
        update = _pointHash(proof, 3);
    }

    /// @dev The open round, if it can be aggregated now (the timing rules of `finalizeRound`).
    function _checkAggregatable(uint256 round) private view returns (Round storage open) {
        open = _checkOpenRound(round);
        if (open.accepted == 0) revert NoAcceptedUpdates(round);
        if (optimistic) {
            uint256 closesAt = uint256(open.deadline) + challengeWindow;
            if (block.number <= closesAt) revert ChallengeWindowOpen(round, closesAt, block.number);
            if (_openRequests[round] != 0) revert ProofRequestsOpen(round, _openRequests[round]);
        } else if (open.accepted < registeredClients && block.number <= open.deadline) {
            revert SubmissionStillOpen(round, open.deadline, block.number);
        }
    }

    /// @dev Check that a proof's first `count` commitments are exactly what it must consume: the
    ///      slots from `first` on (a leaf, or a flat root), or the leaves from `first` on (a tree's
    ///      root). An empty slot or leaf carries emptySlotHash; a leaf with accepted updates must
    ///      have been proven.
    function _checkConsumed(uint256 round, bytes calldata proof, uint256 count, uint256 first, bool overLeaves)
        private
        view
    {
        if (proof.length < (count + 1) * POINT_BYTES) revert ProofTooShort(proof.length, (count + 1) * POINT_BYTES);
        for (uint256 i = 0; i < count; ++i) {
            uint256 expected;
            if (overLeaves) {
                expected = _leafOutputs[round][first + i];
                if (expected == 0) {
                    if (_leafAccepted[round][first + i] != 0) revert LeafNotAggregated(round, first + i);
                    expected = emptySlotHash;
                }
            } else {
                expected = _updateHashes[round][first + i];
                if (expected == 0) expected = emptySlotHash;
            }
            uint256 consumed = _pointHash(proof, i);
            if (consumed != expected) revert SlotMismatch(round, first + i, expected, consumed);
        }
    }

    /// @dev Keep a tree's per-leaf count of accepted updates, and drop the leaf's proven output:
    ///      it summed other updates.
    function _leafChanged(uint256 round, uint256 slot, bool added) private {
        uint256 g = leafSlots;
        if (g == 0) return;
        uint256 leaf = slot / g;
        if (added) _leafAccepted[round][leaf] += 1;
        else _leafAccepted[round][leaf] -= 1;
        delete _leafOutputs[round][leaf];
    }

    function _accept(uint256 round, Client storage client, DataBatch storage batch, uint256 update, string calldata cid)
        private
    {
        batch.used = true;
        _updateHashes[round][client.slot] = update;
        _rounds[round].accepted += 1;
        _leafChanged(round, client.slot, true);
        client.acceptedUpdates += 1;
        emit UpdateAccepted(round, msg.sender, client.slot, update, cid);
    }

    /// @dev An optimistic update that can still be challenged (or its proof requested), with the bond.
    function _checkChallengeable(uint256 round, uint256 slot) private view returns (Dispute memory dispute) {
        if (!optimistic) revert WrongVerificationMode(false);
        if (msg.value != challengeBond) revert WrongBond(challengeBond, msg.value);
        if (round > currentRound) revert WrongRound(currentRound, round);
        Round storage challenged = _rounds[round];
        uint256 closesAt = uint256(challenged.deadline) + challengeWindow;
        if (challenged.finalized || block.number > closesAt) revert ChallengeWindowClosed(round, closesAt, block.number);
        if (_updateHashes[round][slot] == 0) revert NothingToChallenge(round, slot);
        dispute = _disputes[round][slot];
        if (dispute.defended) revert AlreadyDefended(round, slot);
    }

    /// @dev Run the verifier on the claimed proof of an update: slash it, or pay the bond to its client.
    function _settle(
        uint256 round,
        uint256 slot,
        bytes32 commitmentsHash,
        bytes calldata proof,
        address challenger,
        uint256 bond
    ) private {
        address submitter = slotOwner[slot];
        if (_claims[round][slot] != _claim(sha256(proof), commitmentsHash, submitter)) revert ClaimMismatch(round, slot);
        uint256 prefix = CLIENT_POINTS * POINT_BYTES;
        bool valid = proof.length >= prefix && keccak256(proof[:prefix]) == commitmentsHash
            && _isValid(clientVerifier, proof);
        if (!valid) return _slash(round, slot, submitter, challenger, bond);
        _disputes[round][slot].defended = true;
        emit ChallengeFailed(round, slot, submitter, challenger, bond);
        _pay(submitter, bond);
    }

    /// @dev Remove an update, deregister its client and split its stake; the challenger gets its
    ///      bond back and its share. State first, then the one payment.
    function _slash(uint256 round, uint256 slot, address submitter, address challenger, uint256 bond) private {
        Client storage client = _clients[submitter];
        uint256 stake = client.stake;
        uint256 toChallenger = (stake * challengerShareBps) / 10_000;
        delete _updateHashes[round][slot];
        delete _claims[round][slot];
        _rounds[round].accepted -= 1;
        _leafChanged(round, slot, false);
        client.acceptedUpdates -= 1; // never paid: rewards count only finalized rounds (`_unpaidUpdates`)
        client.registered = false;
        client.stake = 0;
        _freeSlot(slot);
        registeredClients -= 1;
        rewardPool += stake - toChallenger;
        emit UpdateSlashed(round, slot, submitter, challenger, stake, toChallenger);
        _pay(challenger, bond + toChallenger);
    }

    function _claim(bytes32 proofSha256, bytes32 commitmentsHash, address submitter) private pure returns (bytes32) {
        return keccak256(abi.encode(proofSha256, commitmentsHash, submitter));
    }

    /// @dev Accepted updates not paid yet; in an optimistic federation, not counting one still
    ///      waiting in the open round (it can be challenged until the round is finalized).
    function _unpaidUpdates(address account) private view returns (uint256) {
        Client storage client = _clients[account];
        uint256 unpaid = client.acceptedUpdates - client.paidUpdates;
        if (optimistic && unpaid > 0 && client.registered && _updateHashes[currentRound][client.slot] != 0) {
            unpaid -= 1;
        }
        return unpaid;
    }

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

    /// @dev Bounded by the caller's own calldata. Commitments are per client: anyone may commit to
    ///      anyone's (public) commitment, but only proofs bound to their own context can use it.
    function _commit(uint256[] calldata dataCommitments) private {
        if (dataCommitments.length == 0) revert NoDataCommitments();
        for (uint256 i = 0; i < dataCommitments.length; ++i) {
            DataBatch storage batch = _batches[msg.sender][dataCommitments[i]];
            if (batch.committed) revert DataAlreadyCommitted(msg.sender, dataCommitments[i]);
            batch.committed = true;
        }
        emit DataCommitted(msg.sender, dataCommitments);
    }

    /// @dev keccak256 of the index-th 64-byte commitment of a proof (its length checked by the caller).
    function _pointHash(bytes calldata proof, uint256 index) private pure returns (uint256) {
        return uint256(keccak256(proof[index * POINT_BYTES:(index + 1) * POINT_BYTES]));
    }

    function _ecAdd(uint256[2] memory a, uint256[2] memory b) private view returns (uint256[2] memory sum) {
        uint256[4] memory input = [a[0], a[1], b[0], b[1]];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x06, input, 0x80, sum, 0x40)
        }
        if (!ok) revert InvalidContextKey();
    }

    function _ecMul(uint256[2] memory p, uint256 scalar) private view returns (uint256[2] memory product) {
        uint256[3] memory input = [p[0], p[1], scalar];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x07, input, 0x60, product, 0x40)
        }
        if (!ok) revert InvalidContextKey();
    }

    function _lowestFreeSlot() private view returns (uint256) {
        uint256 k = slots;
        for (uint256 word = 0; word << 8 < k; ++word) {
            uint256 bits = _occupied[word];
            if (bits == type(uint256).max) continue;
            uint256 free = ~bits & (bits + 1); // the lowest zero bit, alone
            uint256 slot = word << 8;
            for (uint256 half = 128; half > 0; half >>= 1) {
                if (free >> half != 0) {
                    free >>= half;
                    slot += half;
                }
            }
            if (slot < k) return slot;
            break;
        }
        revert FederationFull(k);
    }

    function _freeSlot(uint256 slot) private {
        delete slotOwner[slot];
        _occupied[slot >> 8] &= ~(1 << (slot & 0xff));
    }

    /// @dev A verifier that reverts or returns false both mean: not a valid proof. But running out
    ///      of gas is no verdict on the proof: a verifier that used up all but the 1/64 of the gas
    ///      EIP-150 keeps back for the caller, or that says so itself (VerifierOutOfGas, as the
    ///      reusable-verifier adapter does), makes the call revert with VerifierOutOfGas.
    function _verify(IHalo2Verifier verifier, bytes calldata proof) private view {
        if (!_isValid(verifier, proof)) revert InvalidProof(address(verifier));
    }

    function _isValid(IHalo2Verifier verifier, bytes calldata proof) private view returns (bool) {
        uint256 gasBefore = gasleft();
        try verifier.verifyProof(proof, new uint256[](0)) returns (bool ok) {
            return ok;
        } catch (bytes memory reason) {
            if (gasleft() <= gasBefore / 63 || bytes4(reason) == VerifierOutOfGas.selector) {
                revert VerifierOutOfGas(address(verifier));
            }
            return false;
        }
    }

    function _pay(address to, uint256 amount) private {
        if (amount == 0) return;
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
