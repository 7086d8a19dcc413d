// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IHalo2Verifier} from "./IHalo2Verifier.sol";
import {Commitments} from "./Commitments.sol";
import {Disputes} from "./Disputes.sol";
import {SlotBitmap} from "./SlotBitmap.sol";

/// @title zkFL round coordinator
/// @notice Runs a verifiable federated-learning federation. Clients register with a stake and
///         salted commitments to the data batches they will train on (each used once, and only in
///         a round that opened after it was committed); each round they submit a proven local
///         training step from the round's global model on one of their batches; the aggregator
///         submits a proven FedAvg of exactly the accepted updates, which becomes the next global
///         model. Nothing unproven or unlinked is accepted, every accepted commitment can be made
///         to open canonically (`Disputes`), every round closes (finalized, or skipped by anyone
///         once it cannot be), and every wei owed is credited for the payee to withdraw.
/// @dev Proof links are KZG commitments (ezkl `polycommit`): the proofs have no public instances,
///      and the commitments of a circuit's inputs, then outputs, are the first 64-byte BN254 points
///      of its proof bytes, which the verifier checks. The contract stores keccak256 of a point (a
///      "hash" below):
///      client proof    [C(global), C(data), C(context), C(update)]
///      aggregation     [C(sum of the accepted updates), C(next global)]
///      One aggregation proof serves any number of clients: a commitment is affine in its vector,
///      C(u) = C(0) + sum_j u_j L_j, so C(u_1 + ... + u_k) = sum_i C(u_i) - (k - 1) C(0). The
///      coordinator adds each accepted update's point to a running sum (and takes a removed one
///      out), and the FedAvg proof must take exactly the vector of that sum as its one input
///      (its last element counts the updates, one each). The points are in `UpdateAccepted`.
///      Binding of a proof to its sender and federation: the context input of a client proof is
///      keccak256(chainid, federationId, sender) cut into CONTEXT_LEN field elements, where
///      federationId = keccak256(abi.encode(deployer, salt)), so no other deployer can make a
///      coordinator that accepts this federation's proofs. The contract computes the context's
///      commitment (`contextHashOf`) with the EC precompiles.
contract Coordinator is Disputes {
    using SlotBitmap for mapping(uint256 => uint256);

    uint256 public constant CONTEXT_LEN = Commitments.CONTEXT_LEN;
    uint256 public constant CONTEXT_BITS = Commitments.CONTEXT_BITS;
    uint256 private constant POINT_BYTES = 64;
    uint256 private constant CLIENT_POINTS = 4;
    uint256 private constant UPDATE_POINT = 3 * POINT_BYTES;

    address public immutable owner;
    IHalo2Verifier public immutable aggregatorVerifier;
    /// @notice Number of client slots K: at most K clients are registered at once.
    uint256 public immutable slots;
    /// @notice SHA-256 of the federation manifest (zkfl.manifest), also the digest inside its CID.
    bytes32 public immutable circuitsDigest;
    uint256 public immutable stakeAmount;
    uint256 public immutable rewardPerUpdate;
    /// @notice Batches committed up to this block, while round 0 is open, train from round 0 on;
    ///         every other one from the round after the one open when it was committed.
    uint64 public immutable registrationEnds;
    uint64 public immutable registrationWindow;
    uint64 public immutable submissionWindow;
    /// @notice Blocks after a round's challenge window before a client whose update waits in it may
    ///         leave, and before anyone may skip it if the aggregator has not finalized it.
    uint64 public immutable finalizationGrace;
    uint32 public immutable maxOpenBatches;
    /// @notice keccak256(abi.encode(deployer, salt)): inside every client proof's context (with the
    ///         chain id and the sender), so a proof made for another federation is rejected here.
    bytes32 public immutable federationId;
    /// @notice Updates are uploaded masked (`Terms.privateUpdates`), after a share window each round.
    bool public immutable privateUpdates;
    uint64 public immutable shareWindow;

    address public aggregator;
    uint256 public registeredClients;
    uint256 public rewardPool;

    /// @dev The open round's record, rewritten (never zeroed) as rounds go by: a closed round
    ///      keeps only its status, the rest is in its events.
    OpenRound private _open;
    /// @dev The model the open round's model was aggregated from: where a model nobody can open
    ///      rolls back to. Rewritten, never zeroed.
    uint256 private _previousModelHash;
    /// @dev Skipped rounds, one bit each, 256 a word: a closed round without its bit was finalized.
    mapping(uint256 => uint256) private _skippedRounds;
    /// @dev round => slot => accepted update hash (0: no accepted update)
    mapping(uint256 => mapping(uint256 => uint256)) private _updateHashes;
    /// @dev C(sum of the open round's accepted updates) = C(0) + sum of (C(u) - C(0)) over them:
    ///      one pair of words, rewritten, never zeroed, as rounds go by.
    uint256[2] private _runningSum;
    mapping(uint256 => uint256) private _occupied;
    mapping(address => Client) private _clients;
    mapping(uint256 => address) public slotOwner;
    mapping(address => mapping(uint256 => DataBatch)) private _batches;
    /// @dev C(0), the commitment of a zero vector (not the identity point), as (x, y).
    uint256 private immutable _zeroX;
    uint256 private immutable _zeroY;
    uint256[2][5] private _contextBasis;
    /// @dev Who published the open round's model and the bond it posted (credited back when the
    ///      round closes, or carried over to the next model by the same aggregator): only the open
    ///      round's model can be disputed, so one slot, rewritten.
    ModelBond private _openModelBond;

    struct OpenRound {
        uint256 modelHash;
        uint64 number;
        uint64 deadline;
        uint32 accepted;
    }

    /// @dev `live` is always 1, so the word is never zero and rewriting it costs 2.9k gas, not 22.1k.
    struct ModelBond {
        address aggregator;
        uint88 amount;
        uint8 live;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    modifier onlyAggregator() {
        if (msg.sender != aggregator) revert NotAggregator(msg.sender);
        _;
    }

    /// @param clientVerifier_ ezkl verifier of the training-step circuit.
    /// @param aggregatorVerifier_ ezkl verifier of the FedAvg circuit (one input: the sum).
    /// @param aggregator_ The account allowed to finalize rounds.
    /// @param slots_ Client slots K, at most 2^32 - 1.
    /// @param genesisModelHash keccak256 of C(genesis weights).
    /// @param genesisModelCid Content identifier of the genesis weights.
    /// @param circuitsDigest_ SHA-256 of the federation manifest.
    /// @param terms Stake, reward, windows, batch cap, verification mode and dispute terms.
    /// @param federationSalt With the deployer, this federation's identifier (`federationId`).
    /// @param key The points the coordinator commits to contexts and opens vectors with.
    constructor(
        IHalo2Verifier clientVerifier_,
        IHalo2Verifier aggregatorVerifier_,
        address aggregator_,
        uint256 slots_,
        uint256 genesisModelHash,
        string memory genesisModelCid,
        bytes32 circuitsDigest_,
        Terms memory terms,
        bytes32 federationSalt,
        CommitmentKey memory key
    ) Disputes(clientVerifier_, terms.optimistic, terms.disputes, key.vectorBasisHash, key.updateLength) {
        if (address(clientVerifier_) == address(0) || address(aggregatorVerifier_) == address(0)) revert ZeroAddress();
        if (aggregator_ == address(0)) revert ZeroAddress();
        if (slots_ == 0 || slots_ > type(uint32).max) revert InvalidConfig("slots must be in 1..2^32-1");
        if (terms.submissionWindow == 0) revert InvalidConfig("submission window must be at least one block");
        if (terms.submissionWindow > type(uint32).max || terms.finalizationGrace > type(uint32).max
            || terms.registrationWindow > type(uint32).max) {
            revert InvalidConfig("windows must be below 2^32 blocks");
        }
        if (terms.maxOpenBatches == 0) revert InvalidConfig("a client must be able to hold at least one batch");
        if (terms.stakeAmount > type(uint88).max) revert InvalidConfig("the stake must be below 2^88 wei");
        if (terms.privateUpdates && (terms.shareWindow == 0
            || uint256(terms.registrationWindow) + terms.shareWindow >= terms.submissionWindow)) {
            revert InvalidConfig("private updates need a share window of at least one block that ends before submissions do");
        }
        if (Commitments.isIdentity(key.zero)) revert InvalidContextKey();
        for (uint256 j = 0; j < CONTEXT_LEN; ++j) {
            if (Commitments.isIdentity(key.contextBasis[j])) revert InvalidContextKey();
        }
        owner = msg.sender;
        aggregatorVerifier = aggregatorVerifier_;
        aggregator = aggregator_;
        slots = slots_;
        circuitsDigest = circuitsDigest_;
        stakeAmount = terms.stakeAmount;
        rewardPerUpdate = terms.rewardPerUpdate;
        registrationEnds = uint64(block.number) + terms.registrationWindow;
        registrationWindow = terms.registrationWindow;
        submissionWindow = terms.submissionWindow;
        finalizationGrace = terms.finalizationGrace;
        maxOpenBatches = terms.maxOpenBatches;
        privateUpdates = terms.privateUpdates;
        shareWindow = terms.shareWindow;
        bytes32 id = keccak256(abi.encode(msg.sender, federationSalt));
        federationId = id;
        _zeroX = key.zero[0];
        _zeroY = key.zero[1];
        _contextBasis = key.contextBasis;
        // reverts with InvalidPoint unless every context point is on the curve
        Commitments.contextHash(key.zero, key.contextBasis, id, msg.sender);
        _openModelBond = ModelBond(address(0), 0, 1); // genesis is unbonded
        _previousModelHash = genesisModelHash;
        emit FederationCreated(msg.sender, address(clientVerifier_), address(aggregatorVerifier_), slots_, circuitsDigest_);
        emit AggregatorChanged(address(0), aggregator_);
        _openRound(0, genesisModelHash, genesisModelCid);
    }

    // ------------------------------------------------------------------ administration

    /// @notice Hand the aggregator role to another account.
    function setAggregator(address next) external onlyOwner {
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
    ///         will train on (at most `maxOpenBatches` unused at once). Batches committed by block
    ///         `registrationEnds` train from round 0; later ones from the next round on.
    /// @param dataCommitments keccak256 of C(batch) for each batch, as in your proofs.
    function register(uint256[] calldata dataCommitments) external payable {
        Client storage client = _clients[msg.sender]; // reward counters survive a re-registration
        if (client.registered) revert AlreadyRegistered(msg.sender);
        if (msg.value != stakeAmount) revert WrongStake(stakeAmount, msg.value);
        uint256 slot = _occupied.lowestFree(slots);
        if (slot == slots) revert FederationFull(slots);
        client.registered = true;
        client.slot = uint32(slot);
        client.stake = msg.value;
        client.contextHash = contextHashOf(msg.sender);
        client.firstRound = privateUpdates ? type(uint32).max : _nextCohort(); // private: once it sets a channel key
        slotOwner[slot] = msg.sender;
        _occupied.occupy(slot);
        registeredClients += 1;
        emit ClientRegistered(msg.sender, slot, msg.value);
        _commit(client, dataCommitments);
    }

    /// @notice Set your channel key (private federations): the public key your neighbours seal your
    ///         shares of their masking secrets with. You take part from the next round on (from round
    ///         0 if set within the registration window), so no round's cohort changes once it is fixed.
    /// @param channelKey x·G1 (64 bytes) then x·G2 (128 bytes) of a BN254 secret x.
    function setChannelKey(bytes calldata channelKey) external {
        if (!privateUpdates) revert WrongUpdateMode(false);
        Client storage client = _clients[msg.sender];
        if (!client.registered) revert NotRegistered(msg.sender);
        if (channelKey.length != 192) revert WrongChannelKeyLength(channelKey.length);
        uint32 first = _nextCohort();
        client.firstRound = first;
        emit ChannelKeySet(msg.sender, channelKey, first);
    }

    /// @notice Share your masking keys for the open round (private federations), inside its share
    ///         window: your advertised keys and your sealed shares for your neighbours are in the
    ///         store, and `bundleHash` pins them. Only clients registered, with a channel key, before
    ///         the round's cohort was fixed take part (`firstRound`); one that shares nothing sits it
    ///         out: an update it submits anyway is excluded.
    /// @param round The open round.
    /// @param bundleHash SHA-256 of the key bundle (the digest of its CID).
    /// @dev Nothing is stored (a new word would cost more than the rest): the events are the record,
    ///      and an update submitted without keys shared in its round cannot be unmasked, so the
    ///      aggregator excludes it (`excludeUpdate`; `zkfl.verification.masking.unshared_submitters`).
    function shareKeys(uint256 round, bytes32 bundleHash) external {
        if (!privateUpdates) revert WrongUpdateMode(false);
        Client storage client = _clients[msg.sender];
        if (!client.registered) revert NotRegistered(msg.sender);
        if (client.firstRound > round) revert NotInCohort(round, msg.sender, client.firstRound);
        uint256 current = _open.number; // the round's number and deadline share a word: not its model
        if (round != current) revert WrongRound(current, round);
        (uint256 opensAt, uint256 closesAt) = _shareWindowAt(round, _open.deadline);
        if (block.number < opensAt || block.number > closesAt) {
            revert OutsideShareWindow(round, opensAt, closesAt, block.number);
        }
        emit KeysShared(round, msg.sender, bundleHash);
    }

    /// @notice The blocks in which the open round's clients share keys (private federations): from
    ///         the round's opening (round 0: the block after `registrationEnds`), `shareWindow` blocks.
    function shareWindowOf(uint256 round) external view returns (uint256 opensAt, uint256 closesAt) {
        return _shareWindowAt(round, _checkOpenRound(round).deadline);
    }

    /// @notice Exclude an accepted private update whose masked upload the public record shows to
    ///         be wrong (`zkfl.privacy.checks` names it), after the round's submissions closed:
    ///         it leaves the round's sum, unrewarded; its client keeps its stake (the evidence is
    ///         off-chain, for anyone to rerun). Only the aggregator, who unmasks the sum, may.
    /// @param round The open round.
    /// @param slot The update's slot.
    /// @param updatePoint C(update), 64 bytes as in `UpdateAccepted`.
    /// @param evidenceCid Content identifier of the evidence (the failed check and its inputs).
    function excludeUpdate(uint256 round, uint256 slot, bytes calldata updatePoint, string calldata evidenceCid)
        external
        onlyAggregator
    {
        if (!privateUpdates) revert WrongUpdateMode(false);
        OpenRound memory open = _checkOpenRound(round);
        if (block.number <= open.deadline) revert SubmissionsStillOpen(round, open.deadline);
        Dispute memory dispute = _disputeOf(round, slot);
        if (dispute.pending != 0) revert RequestPending(round, slot, dispute.revealBy);
        address submitter = _removeUpdate(round, slot, updatePoint);
        _clients[submitter].hasPending = false; // never rewarded
        emit UpdateExcluded(round, slot, submitter, evidenceCid);
    }

    /// @notice Commit more data batches as a registered client; they train from the next round on.
    /// @param dataCommitments keccak256 of C(batch) of each new batch.
    function commitData(uint256[] calldata dataCommitments) external {
        Client storage client = _clients[msg.sender];
        if (!client.registered) revert NotRegistered(msg.sender);
        _commit(client, dataCommitments);
    }

    /// @notice Leave the federation: frees the slot and credits the stake (`withdrawPayments`).
    ///         While an update of yours waits in the open round, only once the round is
    ///         `finalizationGrace` blocks past its challenge window, and never while a request on
    ///         it is open: an update under dispute returns no stake until it is settled.
    function withdraw() external {
        Client storage client = _clients[msg.sender];
        if (!client.registered) revert NotRegistered(msg.sender);
        uint256 round = _open.number;
        uint256 slot = client.slot;
        if (_updateHashes[round][slot] != 0) {
            uint256 withdrawableAfter = uint256(_open.deadline) + challengeWindow + finalizationGrace;
            if (block.number <= withdrawableAfter) revert PendingSubmission(round, msg.sender, withdrawableAfter);
            Dispute memory dispute = _disputeOf(round, slot);
            if (dispute.pending != 0) revert RequestPending(round, slot, dispute.revealBy);
        }
        uint256 stake = client.stake;
        _occupied.free(slot);
        delete slotOwner[slot];
        registeredClients -= 1;
        client.registered = false;
        client.stake = 0;
        emit ClientWithdrawn(msg.sender, slot, stake);
        _credit(msg.sender, stake);
    }

    /// @notice Credit the caller the rewards owed for its updates in finalized rounds, as many as
    ///         the pool can pay now (the rest stays owed).
    function claimRewards() external {
        Client storage client = _clients[msg.sender];
        _foldPending(client);
        uint256 unpaid = client.rewardedUpdates - client.paidUpdates;
        if (unpaid == 0 || rewardPerUpdate == 0) revert NothingToClaim(msg.sender);
        uint256 affordable = rewardPool / rewardPerUpdate;
        if (affordable == 0) revert InsufficientRewardPool(rewardPool, unpaid * rewardPerUpdate);
        uint256 updates = unpaid < affordable ? unpaid : affordable;
        uint256 amount = updates * rewardPerUpdate;
        client.paidUpdates += uint32(updates);
        rewardPool -= amount;
        emit RewardPaid(msg.sender, amount);
        _credit(msg.sender, amount);
    }

    /// @notice Submit a proven local update for the open round (eager federations).
    /// @param round The round the update is for (must be the open one).
    /// @param proof ezkl proof bytes of the training-step circuit: its commitments
    ///        [C(global), C(data), C(context), C(update)] first. C(data) must be a batch of the
    ///        sender's usable in this round and C(context) the sender's (`contextHashOf`).
    /// @param cid Content identifier of the update vector (weights then sample count).
    function submitUpdate(uint256 round, bytes calldata proof, string calldata cid) external {
        if (optimistic) revert WrongVerificationMode(true);
        (Client storage client, DataBatch storage batch, uint256 update) = _checkLinks(round, proof);
        if (!_isValid(clientVerifier, proof)) revert InvalidProof(address(clientVerifier));
        _accept(round, client, batch, update, Commitments.pointAt(proof, UPDATE_POINT), cid);
    }

    /// @notice Submit a local update for the open round without its proof (optimistic federations):
    ///         every link is checked now; the proof, whose bytes the client has put in the store,
    ///         is verified only if the update is challenged or its proof requested.
    /// @param round The round the update is for (must be the open one).
    /// @param commitments The proof's first CLIENT_POINTS commitments, exactly as in its bytes.
    /// @param proofSha256 SHA-256 of the proof bytes (their CID is CIDv1 raw sha2-256 of them).
    /// @param cid Content identifier of the update vector.
    function submitUpdateOptimistic(uint256 round, bytes calldata commitments, bytes32 proofSha256, string calldata cid)
        external
    {
        if (!optimistic) revert WrongVerificationMode(false);
        (Client storage client, DataBatch storage batch, uint256 update) = _checkLinks(round, commitments);
        _recordClaim(round, client.slot, proofSha256, keccak256(commitments));
        // not verified yet: the precompile adding it to the sum refuses a point off the curve
        _accept(round, client, batch, update, Commitments.pointAt(commitments, UPDATE_POINT), cid);
        emit ProofPending(round, client.slot, proofSha256);
    }

    // ------------------------------------------------------------------ aggregation

    /// @notice Close the open round with a proven FedAvg of exactly its accepted updates, posting
    ///         `stakeAmount` as the next model's bond: it is credited back when the next round
    ///         closes, unless nobody can open that model (`Disputes`). An aggregator whose bond
    ///         backs the open round's model sends nothing: that bond, released as the round closes
    ///         undisputed, backs the next model in its place (`modelBond`).
    /// @dev Eager: allowed once every registered client has submitted, or after the deadline.
    ///      Optimistic: once the round's challenge window has closed. Never with a request open.
    /// @param round The open round.
    /// @param proof ezkl proof bytes of the FedAvg circuit: [C(sum of the accepted updates),
    ///        C(next global)] first.
    /// @param cid Content identifier of the next global weights.
    /// @param sumCid Content identifier of the summed vector the proof took (`acceptedSum`).
    function finalizeRound(uint256 round, bytes calldata proof, string calldata cid, string calldata sumCid)
        external
        payable
        onlyAggregator
    {
        OpenRound memory open = _checkAggregatable(round);
        bool carried = _openModelBond.aggregator == msg.sender;
        uint256 bond = carried ? 0 : stakeAmount;
        if (msg.value != bond) revert WrongBond(bond, msg.value);
        if (proof.length < 2 * POINT_BYTES) revert ProofTooShort(proof.length, 2 * POINT_BYTES);
        uint256 sum = Commitments.hashPoint(acceptedSum());
        uint256 consumed = _pointHash(proof, 0);
        if (consumed != sum) revert WrongUpdateSum(round, sum, consumed);
        if (!_isValid(aggregatorVerifier, proof)) revert InvalidProof(address(aggregatorVerifier));

        uint256 next = _pointHash(proof, 1);
        // the next model's bond: the one held, carried over, or the one just posted
        if (!carried) _releaseModelBond(ModelBond(msg.sender, uint88(msg.value), 1));
        _previousModelHash = open.modelHash;
        emit RoundFinalized(round, next, cid, open.accepted, sum, sumCid);
        _openRound(round + 1, next, cid);
    }

    /// @notice Skip the open round when it cannot be finalized (anyone may): it holds no accepted
    ///         update once its challenge window has closed, or the aggregator left it open
    ///         `finalizationGrace` blocks past that. The next round starts from the same model with
    ///         a new deadline; the skipped round's updates are dropped (no reward, no stake lost).
    function skipRound(uint256 round) external {
        OpenRound memory open = _checkOpenRound(round);
        uint256 requests = openRequests(round);
        if (requests != 0) revert DisputesOpen(round, requests);
        uint256 skippableAfter = uint256(open.deadline) + challengeWindow + (open.accepted == 0 ? 0 : finalizationGrace);
        if (block.number <= skippableAfter) revert RoundNotStalled(round, skippableAfter, block.number);
        _markSkipped(round);
        _releaseModelBond(ModelBond(address(0), 0, 1)); // the next round keeps this model, unbonded
        emit RoundSkipped(round, open.accepted, false);
        _openRound(round + 1, open.modelHash, "");
    }

    // ------------------------------------------------------------------ views

    /// @notice The open round (`currentRound`): the only round whose model hash, deadline and
    ///         accepted count the contract keeps (a closed round's are in its events).
    function getRound(uint256 round) external view returns (Round memory) {
        OpenRound memory open = _checkOpenRound(round);
        return Round(open.modelHash, open.deadline, open.accepted);
    }

    /// @notice Whether a round has not opened yet, is open, or closed finalized or skipped.
    function roundStatus(uint256 round) external view returns (RoundStatus) {
        uint256 current = _open.number;
        if (round > current) return RoundStatus.NotOpened;
        if (round == current) return RoundStatus.Open;
        return _isSkipped(round) ? RoundStatus.Skipped : RoundStatus.Finalized;
    }

    /// @notice The open round: every round before it is closed, and it closes only by opening the next.
    function currentRound() public view returns (uint256) {
        return _open.number;
    }

    /// @notice Who published the open round's model and the bond it posted (zero for genesis, for a
    ///         model carried over from a skipped round, and for any round but the open one: the
    ///         coordinator holds one model bond, the open model's).
    function modelBond(uint256 round) external view returns (address, uint256) {
        if (round != _open.number) return (address(0), 0);
        ModelBond memory bond = _openModelBond;
        return (bond.aggregator, bond.amount);
    }

    /// @notice C(sum of the open round's accepted updates), as (x, y): what its aggregation proof
    ///         must take as input (C(0) while none is accepted).
    function acceptedSum() public view returns (uint256[2] memory) {
        return _runningSum;
    }

    /// @notice The accepted update hash in a slot of a round (0 if none).
    function acceptedUpdateHash(uint256 round, uint256 slot) external view returns (uint256) {
        return _updateHashes[round][slot];
    }

    /// @notice Wei owed to `account` for updates accepted in finalized rounds and not yet claimed.
    function rewardsOwed(address account) external view returns (uint256) {
        Client storage client = _clients[account];
        uint256 rewarded = client.rewardedUpdates + (_pendingFinalized(client) ? 1 : 0);
        return (rewarded - client.paidUpdates) * rewardPerUpdate;
    }

    function getClient(address account) external view returns (Client memory) {
        return _clients[account];
    }

    /// @notice Whether `client` committed a data batch, whether a proof consumed it, and the first round it may train in.
    function dataBatch(address client, uint256 dataCommitment) external view returns (DataBatch memory) {
        return _batches[client][dataCommitment];
    }

    /// @notice keccak256 of C(context) for proofs that `account` submits here (zkfl.protocol.context).
    function contextHashOf(address account) public view returns (uint256) {
        return Commitments.contextHash(_zeroPoint(), _contextBasis, federationId, account);
    }

    /// @notice The global model hash of the open round.
    function currentModelHash() external view returns (uint256) {
        return _open.modelHash;
    }

    // ------------------------------------------------------------------ for Disputes

    function _openRoundDeadline(uint256 round) internal view override returns (uint256) {
        return _checkOpenRound(round).deadline;
    }

    function _acceptedHash(uint256 round, uint256 slot) internal view override returns (uint256) {
        return _updateHashes[round][slot];
    }

    function _roundModelHash(uint256 round) internal view override returns (uint256) {
        return _checkOpenRound(round).modelHash;
    }

    function _modelBonded(uint256 round) internal view override returns (bool) {
        return round == _open.number && _openModelBond.aggregator != address(0);
    }

    function _submitter(uint256 slot) internal view override returns (address) {
        return slotOwner[slot];
    }

    function _zeroPoint() internal view override returns (uint256[2] memory) {
        return [_zeroX, _zeroY];
    }

    /// @dev Remove an update, deregister its client and split its stake: `challengerShareBps` and
    ///      the bond to the beneficiary, the rest to the reward pool.
    function _slashUpdate(uint256 round, uint256 slot, address beneficiary, uint256 bond, bytes calldata updatePoint)
        internal
        override
    {
        address submitter = _removeUpdate(round, slot, updatePoint);
        Client storage client = _clients[submitter];
        uint256 stake = client.stake;
        uint256 toBeneficiary = (stake * challengerShareBps) / 10_000;
        client.hasPending = false; // never rewarded
        client.registered = false;
        client.stake = 0;
        _occupied.free(slot);
        delete slotOwner[slot];
        registeredClients -= 1;
        rewardPool += stake - toBeneficiary;
        emit UpdateSlashed(round, slot, submitter, beneficiary, stake, toBeneficiary);
        _credit(beneficiary, bond + toBeneficiary);
    }

    /// @dev Take an accepted update (and its commitment, checked against the accepted hash) out of
    ///      the open round and its sum; returns who submitted it.
    function _removeUpdate(uint256 round, uint256 slot, bytes calldata updatePoint) private returns (address) {
        uint256 accepted = _updateHashes[round][slot];
        if (updatePoint.length != POINT_BYTES) revert ProofTooShort(updatePoint.length, POINT_BYTES);
        uint256[2] memory point = Commitments.pointAt(updatePoint, 0);
        uint256 given = Commitments.hashPoint(point);
        if (given != accepted) revert WrongUpdatePoint(round, slot, accepted, given);
        // C(sum) - (C(u) - C(0))
        _runningSum = Commitments.add(Commitments.add(_runningSum, Commitments.negate(point)), _zeroPoint());
        delete _updateHashes[round][slot];
        _clearSlot(round, slot);
        _open.accepted -= 1; // only the open round's updates leave
        return slotOwner[slot];
    }

    function _updatesArePrivate() internal view override returns (bool) {
        return privateUpdates;
    }

    /// @dev The round's model could not be opened: skip the round back to the model the previous
    ///      round started from (which produced this one), and slash the model's bond.
    function _rollBackModel(uint256 round, address requester, uint256 bond) internal override {
        uint256 requests = openRequests(round);
        if (requests != 0) revert DisputesOpen(round, requests);
        OpenRound memory open = _checkOpenRound(round);
        ModelBond memory slashed = _openModelBond;
        _openModelBond = ModelBond(address(0), 0, 1);
        uint256 toRequester = (uint256(slashed.amount) * challengerShareBps) / 10_000;
        rewardPool += slashed.amount - toRequester;
        _markSkipped(round);
        emit ModelSlashed(round, slashed.aggregator, requester, slashed.amount, toRequester);
        emit RoundSkipped(round, open.accepted, true);
        _credit(requester, bond + toRequester);
        _openRound(round + 1, _previousModelHash, "");
    }

    // ------------------------------------------------------------------ internals

    /// @dev Every check of a submission but the proof's own: open round, deadline, registration,
    ///      one update per client, and the links of its leading commitments.
    function _checkLinks(uint256 round, bytes calldata proof)
        private
        view
        returns (Client storage client, DataBatch storage batch, uint256 update)
    {
        OpenRound memory open = _checkOpenRound(round);
        if (block.number > open.deadline) revert SubmissionClosed(round, open.deadline, block.number);
        client = _clients[msg.sender];
        if (!client.registered) revert NotRegistered(msg.sender);
        if (_updateHashes[round][client.slot] != 0) revert AlreadySubmitted(round, msg.sender);
        if (privateUpdates) {
            (, uint256 sharingEnds) = _shareWindowAt(round, open.deadline);
            if (block.number <= sharingEnds) revert ShareWindowOpen(round, sharingEnds);
        }
        if (proof.length < CLIENT_POINTS * POINT_BYTES) revert ProofTooShort(proof.length, CLIENT_POINTS * POINT_BYTES);
        uint256 model = _pointHash(proof, 0);
        if (model != open.modelHash) revert WrongGlobalModel(round, open.modelHash, model);
        uint256 data = _pointHash(proof, 1);
        batch = _batches[msg.sender][data];
        if (!batch.committed) revert WrongDataCommitment(msg.sender, data);
        if (batch.used) revert DataCommitmentUsed(data);
        if (batch.usableFrom > round) revert BatchNotYetUsable(msg.sender, data, batch.usableFrom, round);
        uint256 context = _pointHash(proof, 2);
        if (context != client.contextHash) revert WrongContext(msg.sender, client.contextHash, context);
        update = _pointHash(proof, 3);
    }

    /// @dev The first round whose cohort a client joining now is in: round 0 within the registration
    ///      window, else the round after the open one (whose cohort is fixed).
    function _nextCohort() private view returns (uint32) {
        uint256 round = _open.number;
        return round == 0 && block.number <= registrationEnds ? 0 : uint32(round + 1);
    }

    /// @dev The open round's share window, from its deadline: from its opening (round 0: after
    ///      registration), `shareWindow` blocks.
    function _shareWindowAt(uint256 round, uint256 deadline) private view returns (uint256 opensAt, uint256 closesAt) {
        opensAt = round == 0 ? uint256(registrationEnds) + 1 : deadline - submissionWindow;
        closesAt = opensAt + shareWindow - 1;
    }

    /// @dev The open round, if it can be aggregated now (the timing rules of `finalizeRound`).
    function _checkAggregatable(uint256 round) private view returns (OpenRound memory open) {
        open = _checkOpenRound(round);
        if (open.accepted == 0) revert NoAcceptedUpdates(round);
        uint256 requests = openRequests(round);
        if (requests != 0) revert DisputesOpen(round, requests);
        if (optimistic) {
            uint256 closesAt = uint256(open.deadline) + challengeWindow;
            if (block.number <= closesAt) revert ChallengeWindowOpen(round, closesAt, block.number);
        } else if (open.accepted < registeredClients && block.number <= open.deadline) {
            revert SubmissionStillOpen(round, open.deadline, block.number);
        }
    }

    /// @dev `point` is C(update), whose hash `update` the links were checked with.
    function _accept(
        uint256 round,
        Client storage client,
        DataBatch storage batch,
        uint256 update,
        uint256[2] memory point,
        string calldata cid
    ) private {
        batch.used = true;
        _foldPending(client);
        client.hasPending = true;
        client.pendingRound = uint32(round);
        client.openBatches -= 1;
        _updateHashes[round][client.slot] = update;
        _open.accepted += 1;
        // C(sum) + (C(u) - C(0)); the precompile refuses a point off the curve
        _runningSum = Commitments.add(Commitments.add(_runningSum, point), Commitments.negate(_zeroPoint()));
        emit UpdateAccepted(round, msg.sender, client.slot, update, point, cid);
    }

    /// @dev A client has at most one update not yet counted for rewards: the one in its latest
    ///      round. Once that round is finalized it counts; a skipped round's does not.
    function _foldPending(Client storage client) private {
        if (!client.hasPending) return;
        uint256 round = client.pendingRound;
        if (round == _open.number) return; // still open
        if (!_isSkipped(round)) client.rewardedUpdates += 1;
        client.hasPending = false;
    }

    function _pendingFinalized(Client storage client) private view returns (bool) {
        uint256 round = client.pendingRound;
        return client.hasPending && round != _open.number && !_isSkipped(round);
    }

    function _isSkipped(uint256 round) private view returns (bool) {
        return _skippedRounds[round >> 8] & (1 << (round & 0xff)) != 0;
    }

    function _markSkipped(uint256 round) private {
        _skippedRounds[round >> 8] |= 1 << (round & 0xff);
    }

    /// @dev The open round closes without a dispute on its model: credit that model's bond back to
    ///      its publisher, and hold `next` (the next round's model's bond) in its place.
    function _releaseModelBond(ModelBond memory next) private {
        ModelBond memory bond = _openModelBond;
        _openModelBond = next;
        if (bond.aggregator != address(0)) _credit(bond.aggregator, bond.amount);
    }

    function _openRound(uint256 round, uint256 modelHash, string memory modelCid) private {
        uint64 deadline = uint64(block.number) + submissionWindow;
        _open = OpenRound({modelHash: modelHash, number: uint64(round), deadline: deadline, accepted: 0});
        _runningSum = _zeroPoint();
        emit RoundOpened(round, modelHash, modelCid, deadline);
    }

    /// @dev The current round is always the open one: closing a round opens the next.
    function _checkOpenRound(uint256 round) private view returns (OpenRound memory open) {
        open = _open;
        if (round != open.number) revert WrongRound(open.number, round);
    }

    /// @dev Bounded by the caller's own calldata and by `maxOpenBatches`. Commitments are per
    ///      client: anyone may commit to anyone's (public) commitment, but only proofs bound to
    ///      their own context can use it.
    function _commit(Client storage client, uint256[] calldata dataCommitments) private {
        if (dataCommitments.length == 0) revert NoDataCommitments();
        uint256 open = client.openBatches + dataCommitments.length;
        if (open > maxOpenBatches) revert TooManyOpenBatches(msg.sender, open, maxOpenBatches);
        client.openBatches = uint32(open);
        uint256 round = _open.number;
        uint64 usableFrom = round == 0 && block.number <= registrationEnds ? 0 : uint64(round) + 1;
        for (uint256 i = 0; i < dataCommitments.length; ++i) {
            DataBatch storage batch = _batches[msg.sender][dataCommitments[i]];
            if (batch.committed) revert DataAlreadyCommitted(msg.sender, dataCommitments[i]);
            batch.committed = true;
            batch.usableFrom = usableFrom;
        }
        emit DataCommitted(msg.sender, dataCommitments, usableFrom);
    }

    /// @dev keccak256 of the index-th 64-byte commitment of a proof (its length checked by the caller).
    function _pointHash(bytes calldata proof, uint256 index) private pure returns (uint256) {
        return uint256(keccak256(proof[index * POINT_BYTES:(index + 1) * POINT_BYTES]));
    }
}
