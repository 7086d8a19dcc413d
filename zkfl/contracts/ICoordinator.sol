// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title The zkFL coordinator's types, errors and events
/// @notice Everything a caller, an indexer or the auditor needs to read a coordinator's calls,
///         reverts and logs, declared once (OpenZeppelin's `draft-IERC6093` shape). The
///         behaviour lives in `Coordinator`, `Disputes` and `PullPayments`.
interface ICoordinator {
    // ------------------------------------------------------------------ types

    /// @notice Who may dispute what, for how long, and at what price; fixed at deployment.
    /// @param challengeWindow Blocks after a round's deadline in which its updates can be
    ///        challenged, or their proof (optimistic federations) or opening requested.
    /// @param revealWindow Blocks a requested proof or opening has to appear on-chain.
    /// @param bond Wei a challenge or a request posts. An answered request pays it to whoever
    ///        answered (it covers the answer's gas); an unanswered one returns it with a share of
    ///        the slashed stake.
    /// @param bondGasPrice Wei per gas at which `bond` must cover the costliest answer
    ///        (`answerGasAllowance`); 0 skips that check (a devnet).
    /// @param challengerShareBps Part of a slashed stake paid to the challenger or requester, in
    ///        basis points, at most `MAX_CHALLENGER_SHARE_BPS`; the rest goes to the reward pool.
    struct DisputeTerms {
        uint64 challengeWindow;
        uint64 revealWindow;
        uint256 bond;
        uint256 bondGasPrice;
        uint16 challengerShareBps;
    }

    /// @notice A federation's economic and timing terms, fixed at deployment.
    /// @param stakeAmount Wei a client stakes to register, and an aggregator bonds per model it publishes.
    /// @param rewardPerUpdate Wei owed to a client per update accepted in a finalized round.
    /// @param registrationWindow Blocks after deployment in which committed batches count for round 0.
    /// @param submissionWindow Blocks each round accepts submissions.
    /// @param finalizationGrace Blocks after a round's challenge window before a client with a
    ///        pending update may leave, and before anyone may skip a round the aggregator left open.
    /// @param maxOpenBatches Committed, unused data batches a client may hold at once.
    /// @param optimistic Client proofs verified only when challenged (true) or on submission.
    /// @param disputes The challenge and request terms.
    /// @param privateUpdates Updates are uploaded masked (secure aggregation, `zkfl.privacy`): each
    ///        round's clients first share their masking keys (`shareKeys`), and no update is opened.
    /// @param shareWindow Blocks at the start of each round (of round 0: after `registrationEnds`)
    ///        in which clients share keys; masked submissions follow, until the deadline.
    struct Terms {
        uint256 stakeAmount;
        uint256 rewardPerUpdate;
        uint64 registrationWindow;
        uint64 submissionWindow;
        uint64 finalizationGrace;
        uint32 maxOpenBatches;
        bool optimistic;
        DisputeTerms disputes;
        bool privateUpdates;
        uint64 shareWindow;
    }

    /// @notice What the coordinator commits to vectors with. A commitment is affine in its vector:
    ///         C(v) = C(0) + sum_j v_j * L_j, with L_j = C(e_j) - C(0) the Lagrange basis point of row j.
    /// @param zero C(0), as (x, y).
    /// @param contextBasis L_0 .. L_{CONTEXT_LEN-1}, kept in storage for every registration.
    /// @param vectorBasisHash keccak256 of L_0 .. L_{updateLength-1} (64 bytes each), which an
    ///        opening brings in calldata.
    /// @param updateLength Elements of an update vector (weights, then its client count, 1); a model has one fewer.
    struct CommitmentKey {
        uint256[2] zero;
        uint256[2][5] contextBasis;
        bytes32 vectorBasisHash;
        uint256 updateLength;
    }

    /// @dev One storage word for the hot fields. Rewards owed = rewarded - paid, plus one while the
    ///      pending update's round is finalized but not yet folded in.
    struct Client {
        bool registered;
        uint32 slot;
        uint32 openBatches;
        uint32 rewardedUpdates;
        uint32 paidUpdates;
        bool hasPending;
        uint32 pendingRound;
        uint32 firstRound;
        uint256 stake;
        uint256 contextHash;
    }

    /// @dev A client's committed data batch; usable from round `usableFrom` on, once.
    struct DataBatch {
        bool committed;
        bool used;
        uint64 usableFrom;
    }

    /// @dev The open round. A round closes exactly once: finalized (a proven next model) or skipped
    ///      (no way to finalize it: the next round starts from the same model, or from the previous
    ///      one when the round's own model could not be opened). The contract keeps only the open
    ///      round's record (rewriting a word costs 2.9k gas where a new one costs 22.1k); a closed
    ///      round's model, deadline and count are in its `RoundOpened` and closing events, and its
    ///      status in `roundStatus`.
    struct Round {
        uint256 modelHash;
        uint64 deadline;
        uint32 accepted;
    }

    /// @dev Where a round stands: not opened yet, open, or closed one way or the other.
    enum RoundStatus {
        NotOpened,
        Open,
        Finalized,
        Skipped
    }

    // ------------------------------------------------------------------ errors

    /// @dev Only the owner may call this.
    /// @param caller The account that called.
    error NotOwner(address caller);
    /// @dev Only the aggregator may call this.
    /// @param caller The account that called.
    error NotAggregator(address caller);
    /// @dev Registration must send exactly the stake.
    /// @param required The stake in wei.
    /// @param sent The wei sent.
    error WrongStake(uint256 required, uint256 sent);
    /// @dev The account is registered already.
    /// @param client The account.
    error AlreadyRegistered(address client);
    /// @dev The account is not a registered client.
    /// @param client The account.
    error NotRegistered(address client);
    /// @dev The client committed this batch already.
    /// @param client The client.
    /// @param dataCommitment The batch's commitment hash.
    error DataAlreadyCommitted(address client, uint256 dataCommitment);
    /// @dev The batch was consumed by an accepted update.
    /// @param dataCommitment The batch's commitment hash.
    error DataCommitmentUsed(uint256 dataCommitment);
    /// @dev A registration or commitment carried no batch.
    error NoDataCommitments();
    /// @dev The client would hold more committed, unused batches than the federation allows.
    /// @param client The client.
    /// @param open Its unused batches with this commitment.
    /// @param max The federation's `maxOpenBatches`.
    error TooManyOpenBatches(address client, uint256 open, uint256 max);
    /// @dev The batch was committed while this round (or a later one) was open: a client trains
    ///      only on data committed before it saw the round's model.
    /// @param client The client.
    /// @param dataCommitment The batch's commitment hash.
    /// @param usableFrom The first round the batch may train in.
    /// @param round The round submitted to.
    error BatchNotYetUsable(address client, uint256 dataCommitment, uint256 usableFrom, uint256 round);
    /// @dev Every client slot is taken.
    /// @param slots The federation's slot count.
    error FederationFull(uint256 slots);
    /// @dev The call names a round other than the open one.
    /// @param current The open round.
    /// @param given The round named.
    error WrongRound(uint256 current, uint256 given);
    /// @dev The round's submission deadline has passed.
    /// @param round The round.
    /// @param deadline Its last block for submissions.
    /// @param blockNumber The current block.
    error SubmissionClosed(uint256 round, uint256 deadline, uint256 blockNumber);
    /// @dev The round still takes submissions and not every client has submitted.
    /// @param round The round.
    /// @param deadline Its last block for submissions.
    /// @param blockNumber The current block.
    error SubmissionStillOpen(uint256 round, uint256 deadline, uint256 blockNumber);
    /// @dev The client has an update in this round already.
    /// @param round The round.
    /// @param client The client.
    error AlreadySubmitted(uint256 round, address client);
    /// @dev The proof bytes cannot even hold their commitments.
    /// @param length The bytes given.
    /// @param required The bytes the commitments alone take.
    error ProofTooShort(uint256 length, uint256 required);
    /// @dev The proof starts from another model than the round's.
    /// @param round The round.
    /// @param expected The round's model hash.
    /// @param got The proof's.
    error WrongGlobalModel(uint256 round, uint256 expected, uint256 got);
    /// @dev The proof's data commitment is not a batch the sender committed.
    /// @param client The sender.
    /// @param got The proof's data commitment hash.
    error WrongDataCommitment(address client, uint256 got);
    /// @dev The proof is bound to another sender, federation or chain.
    /// @param client The sender.
    /// @param expected The sender's context commitment hash here.
    /// @param got The proof's.
    error WrongContext(address client, uint256 expected, uint256 got);
    /// @dev A commitment key point is the identity, or off the curve.
    error InvalidContextKey();
    /// @dev A point given in calldata is not on the curve (the precompile refused it).
    error InvalidPoint();
    /// @dev The verifier rejected the proof.
    /// @param verifier The verifier called.
    error InvalidProof(address verifier);
    /// @dev The round has no accepted update to aggregate.
    /// @param round The round.
    error NoAcceptedUpdates(uint256 round);
    /// @dev The client's update waits in the open round: it may leave after the given block.
    /// @param round The round.
    /// @param client The client.
    /// @param withdrawableAfter The last block before it may leave.
    error PendingSubmission(uint256 round, address client, uint256 withdrawableAfter);
    /// @dev The reward pool cannot pay even one owed update.
    /// @param available The pool in wei.
    /// @param owed What the caller is owed in wei.
    error InsufficientRewardPool(uint256 available, uint256 owed);
    /// @dev Nothing is owed to the caller.
    /// @param account The caller.
    error NothingToClaim(address account);
    /// @dev No payment is credited to the payee.
    /// @param payee The payee.
    error NothingToWithdraw(address payee);
    /// @dev The payee refused the payment; the credit stays.
    /// @param to The payee.
    /// @param amount The wei.
    error TransferFailed(address to, uint256 amount);
    /// @dev A zero address where an account or contract is needed.
    error ZeroAddress();
    /// @dev A constructor argument is out of range.
    /// @param what What is wrong.
    error InvalidConfig(string what);
    /// @dev The call is for the other verification mode.
    /// @param optimistic Whether this federation is optimistic.
    error WrongVerificationMode(bool optimistic);
    /// @dev A challenge or request must post exactly the bond, and a finalization the model bond
    ///      (nothing when the aggregator's bond on the open round's model carries over).
    /// @param required The bond in wei.
    /// @param sent The wei sent.
    error WrongBond(uint256 required, uint256 sent);
    /// @dev The slot holds no accepted update.
    /// @param round The round.
    /// @param slot The slot.
    error NothingToChallenge(uint256 round, uint256 slot);
    /// @dev The round's window for challenges and requests is over.
    /// @param round The round.
    /// @param closedAt Its last block.
    /// @param blockNumber The current block.
    error ChallengeWindowClosed(uint256 round, uint256 closedAt, uint256 blockNumber);
    /// @dev The round's updates can still be challenged.
    /// @param round The round.
    /// @param closesAt The window's last block.
    /// @param blockNumber The current block.
    error ChallengeWindowOpen(uint256 round, uint256 closesAt, uint256 blockNumber);
    /// @dev The proof bytes or commitments are not the ones the update was submitted with.
    /// @param round The round.
    /// @param slot The slot.
    error ClaimMismatch(uint256 round, uint256 slot);
    /// @dev The update's proof was verified on-chain already.
    /// @param round The round.
    /// @param slot The slot.
    error AlreadyDefended(uint256 round, uint256 slot);
    /// @dev The vector was opened canonically on-chain already.
    /// @param round The round.
    /// @param slot The slot (`MODEL_SLOT`: the round's model).
    error AlreadyOpened(uint256 round, uint256 slot);
    /// @dev A request on this slot is open: answer it, or settle it after its reveal deadline.
    /// @param round The round.
    /// @param slot The slot (`MODEL_SLOT`: the round's model).
    /// @param revealBy Its last block.
    error RequestPending(uint256 round, uint256 slot, uint256 revealBy);
    /// @dev No request of this kind is open on the slot.
    /// @param round The round.
    /// @param slot The slot (`MODEL_SLOT`: the round's model).
    error NoRequest(uint256 round, uint256 slot);
    /// @dev The request's reveal deadline has passed.
    /// @param round The round.
    /// @param slot The slot.
    /// @param revealBy Its last block.
    /// @param blockNumber The current block.
    error RevealWindowClosed(uint256 round, uint256 slot, uint256 revealBy, uint256 blockNumber);
    /// @dev The request can still be answered.
    /// @param round The round.
    /// @param slot The slot.
    /// @param revealBy Its last block.
    /// @param blockNumber The current block.
    error RevealWindowOpen(uint256 round, uint256 slot, uint256 revealBy, uint256 blockNumber);
    /// @dev The round has open requests: it can close only once they are answered or settled.
    /// @param round The round.
    /// @param open How many are open.
    error DisputesOpen(uint256 round, uint256 open);
    /// @dev An opening has the wrong number of elements.
    /// @param expected The vector's length.
    /// @param got The elements given.
    error WrongVectorLength(uint256 expected, uint256 got);
    /// @dev The basis points given are not the federation's (`vectorBasisHash`).
    error WrongBasis();
    /// @dev The vector's canonical commitment is not the one the round holds.
    /// @param round The round.
    /// @param slot The slot (`MODEL_SLOT`: the round's model).
    /// @param expected The commitment hash held.
    /// @param got The canonical commitment hash of the vector given.
    error WrongOpening(uint256 round, uint256 slot, uint256 expected, uint256 got);
    /// @dev The round can still be finalized; it may be skipped only after the given block.
    /// @param round The round.
    /// @param skippableAfter The last block before it may be skipped.
    /// @param blockNumber The current block.
    error RoundNotStalled(uint256 round, uint256 skippableAfter, uint256 blockNumber);
    /// @dev The round's model was not published by an aggregation into this round (the genesis, or
    ///      a model carried over by a skip, whose own round could dispute it): there is no aggregator
    ///      to hold to it, nor an earlier model to fall back to.
    /// @param round The round.
    error ModelNotDisputable(uint256 round);

    /// @dev Only a federation with private updates has this step, or forbids this one.
    /// @param privateUpdates Whether this federation's updates are private.
    error WrongUpdateMode(bool privateUpdates);
    /// @dev Keys are shared only in a round's share window.
    /// @param round The round.
    /// @param opensAt The window's first block.
    /// @param closesAt Its last block.
    /// @param blockNumber The current block.
    error OutsideShareWindow(uint256 round, uint256 opensAt, uint256 closesAt, uint256 blockNumber);
    /// @dev Masked submissions start once the share window has closed (every client's neighbours known).
    /// @param round The round.
    /// @param closesAt The share window's last block.
    error ShareWindowOpen(uint256 round, uint256 closesAt);
    /// @dev The client joined after this round's cohort was fixed: it takes part from `firstRound` on.
    /// @param round The round.
    /// @param client The client.
    /// @param firstRound The first round it may take part in.
    error NotInCohort(uint256 round, address client, uint256 firstRound);
    /// @dev A private update is never opened: its masked upload is checked instead.
    /// @param round The round.
    /// @param slot The slot.
    error UpdatesArePrivate(uint256 round, uint256 slot);
    /// @dev An update is excluded only after the round's submissions have closed.
    /// @param round The round.
    /// @param deadline Its submission deadline.
    error SubmissionsStillOpen(uint256 round, uint256 deadline);
    /// @dev The aggregation proof's input is not the commitment of the sum of the round's accepted
    ///      updates (the running sum the coordinator keeps).
    /// @param round The round.
    /// @param expected Hash of C(sum of the accepted updates).
    /// @param got Hash of the proof's input commitment.
    error WrongUpdateSum(uint256 round, uint256 expected, uint256 got);
    /// @dev The commitment point given for an accepted update is not the one accepted.
    /// @param round The round.
    /// @param slot The slot.
    /// @param expected The accepted commitment's hash.
    /// @param got The given point's hash.
    error WrongUpdatePoint(uint256 round, uint256 slot, uint256 expected, uint256 got);

    // ------------------------------------------------------------------ events

    /// @dev The coordinator was deployed.
    /// @param owner The deployer.
    /// @param clientVerifier The training-step circuit's verifier.
    /// @param aggregatorVerifier The FedAvg circuit's verifier.
    /// @param slots The client slots K.
    /// @param circuitsDigest SHA-256 of the federation manifest.
    event FederationCreated(
        address indexed owner, address clientVerifier, address aggregatorVerifier, uint256 slots, bytes32 circuitsDigest
    );
    /// @dev A round opened. An empty `modelCid` means the model is an earlier round's (a skipped
    ///      round): the CID of the last round opened with the same `modelHash` and a CID.
    /// @param round The round.
    /// @param modelHash Its global model's commitment hash.
    /// @param modelCid The model's content identifier, or empty (see above).
    /// @param deadline Its last block for submissions.
    event RoundOpened(uint256 indexed round, uint256 modelHash, string modelCid, uint256 deadline);
    /// @dev A round closed without a proven aggregation.
    /// @param round The round.
    /// @param droppedUpdates Accepted updates it held (not rewarded; their stakes are untouched).
    /// @param modelRolledBack Whether its model could not be opened, so the next round starts from the previous model.
    event RoundSkipped(uint256 indexed round, uint256 droppedUpdates, bool modelRolledBack);
    /// @dev A client registered.
    /// @param client The client.
    /// @param slot Its slot.
    /// @param stake The stake in wei.
    event ClientRegistered(address indexed client, uint256 slot, uint256 stake);
    /// @dev A client committed data batches.
    /// @param client The client.
    /// @param dataCommitments The batches' commitment hashes.
    /// @param usableFrom The first round they may train in.
    event DataCommitted(address indexed client, uint256[] dataCommitments, uint256 usableFrom);
    /// @dev A client left; its stake was credited to it (`withdrawPayments`).
    /// @param client The client.
    /// @param slot The slot it freed.
    /// @param stakeReturned The stake credited.
    event ClientWithdrawn(address indexed client, uint256 slot, uint256 stakeReturned);
    /// @dev A client set its channel key (private federations): the BN254 public key its neighbours
    ///      seal its shares of their masking secrets with (x·G1 then x·G2, 192 bytes). It takes part
    ///      from `firstRound` on, with this key.
    /// @param client The client.
    /// @param channelKey The key.
    /// @param firstRound The first round whose masking cohort it is in.
    event ChannelKeySet(address indexed client, bytes channelKey, uint256 firstRound);
    /// @dev A channel key is a BN254 public key: 64 bytes of x·G1, then 128 of x·G2.
    /// @param length The bytes given.
    error WrongChannelKeyLength(uint256 length);
    /// @dev A client shared its masking keys for a round: its round mask key and its sealed
    ///      shares are in the store under `bundleHash`'s record (`zkfl.privacy`).
    /// @param round The round.
    /// @param client The client.
    /// @param bundleHash SHA-256 of its key bundle (the digest of the bundle's CID).
    event KeysShared(uint256 indexed round, address indexed client, bytes32 bundleHash);
    /// @dev The aggregator excluded an accepted private update whose masking the public record
    ///      shows to be wrong (the evidence names the check, for anyone to rerun). The update leaves
    ///      the round's sum; its client is not rewarded for it, and not slashed: the evidence is
    ///      off-chain.
    /// @param round The round.
    /// @param slot The slot.
    /// @param client The client.
    /// @param evidenceCid Content identifier of the evidence.
    event UpdateExcluded(uint256 indexed round, uint256 slot, address indexed client, string evidenceCid);
    /// @dev An update was accepted into a round.
    /// @param round The round.
    /// @param client The client.
    /// @param slot Its slot.
    /// @param updateHash C(update)'s hash.
    /// @param updatePoint C(update) as (x, y): the round's sum adds it, and anyone recomputes that sum from these.
    /// @param cid The update vector's content identifier.
    event UpdateAccepted(
        uint256 indexed round, address indexed client, uint256 slot, uint256 updateHash, uint256[2] updatePoint, string cid
    );
    /// @dev A round was finalized with a proven FedAvg.
    /// @param round The round.
    /// @param nextModelHash The next model's commitment hash.
    /// @param nextModelCid The next model's content identifier.
    /// @param acceptedUpdates The updates aggregated.
    /// @param sumHash C(sum of the accepted updates)'s hash: the aggregation proof's input.
    /// @param sumCid The summed vector's content identifier.
    event RoundFinalized(
        uint256 indexed round,
        uint256 nextModelHash,
        string nextModelCid,
        uint256 acceptedUpdates,
        uint256 sumHash,
        string sumCid
    );
    /// @dev The aggregator role moved.
    /// @param previous The former aggregator.
    /// @param current The new one.
    event AggregatorChanged(address indexed previous, address indexed current);
    /// @dev The reward pool grew.
    /// @param from The funder.
    /// @param amount The wei added.
    /// @param pool The pool after.
    event RewardPoolFunded(address indexed from, uint256 amount, uint256 pool);
    /// @dev Rewards were credited to a client (`withdrawPayments`).
    /// @param client The client.
    /// @param amount The wei credited.
    event RewardPaid(address indexed client, uint256 amount);
    /// @dev Wei was credited to a payee.
    /// @param payee The payee.
    /// @param amount The wei credited.
    event PaymentCredited(address indexed payee, uint256 amount);
    /// @dev A payee's credit was sent.
    /// @param payee The payee.
    /// @param amount The wei sent.
    event PaymentWithdrawn(address indexed payee, uint256 amount);
    /// @dev An optimistic submission: its proof bytes are in the store under CIDv1 (raw, sha2-256) of `proofSha256`.
    /// @param round The round.
    /// @param slot The slot.
    /// @param proofSha256 SHA-256 of the proof bytes.
    event ProofPending(uint256 indexed round, uint256 slot, bytes32 proofSha256);
    /// @dev An update left its round: its proof did not verify, or nobody answered a request for
    ///      its proof or opening. Its client was deregistered and its stake split.
    /// @param round The round.
    /// @param slot The slot.
    /// @param client The client.
    /// @param challenger The challenger or requester.
    /// @param stake The stake slashed.
    /// @param toChallenger The share credited to the challenger (besides its bond).
    event UpdateSlashed(
        uint256 indexed round, uint256 slot, address indexed client, address challenger, uint256 stake, uint256 toChallenger
    );
    /// @dev A challenged proof verified: the bond was credited to the client.
    /// @param round The round.
    /// @param slot The slot.
    /// @param client The client.
    /// @param challenger The challenger.
    /// @param bond The bond.
    event ChallengeFailed(uint256 indexed round, uint256 slot, address indexed client, address challenger, uint256 bond);
    /// @dev A proof missing from the store was requested.
    /// @param round The round.
    /// @param slot The slot.
    /// @param requester Who posted the bond.
    /// @param revealBy The last block to reveal it.
    event ProofRequested(uint256 indexed round, uint256 slot, address requester, uint256 revealBy);
    /// @dev A requested proof was revealed and verified: the bond was credited to the revealer.
    /// @param round The round.
    /// @param slot The slot.
    /// @param revealer Who revealed it.
    /// @param bond The bond.
    event ProofRevealed(uint256 indexed round, uint256 slot, address revealer, uint256 bond);
    /// @dev The canonical opening of a vector was requested: an update's (a slot) or the round's model (`MODEL_SLOT`).
    /// @param round The round.
    /// @param slot The slot, or `MODEL_SLOT`.
    /// @param requester Who posted the bond.
    /// @param revealBy The last block to open it.
    event OpeningRequested(uint256 indexed round, uint256 slot, address requester, uint256 revealBy);
    /// @dev A vector was opened canonically on-chain (its elements are the transaction's calldata);
    ///      the bond was credited to the opener.
    /// @param round The round.
    /// @param slot The slot, or `MODEL_SLOT`.
    /// @param opener Who opened it.
    /// @param bond The bond.
    event VectorOpened(uint256 indexed round, uint256 slot, address opener, uint256 bond);
    /// @dev Nobody opened the round's model: the aggregator that published it lost its model
    ///      bond, and the round was skipped back to the previous model.
    /// @param round The round.
    /// @param aggregator The model's publisher.
    /// @param requester The requester.
    /// @param modelBond The bond slashed.
    /// @param toRequester The share credited to the requester (besides its bond).
    event ModelSlashed(uint256 indexed round, address indexed aggregator, address requester, uint256 modelBond, uint256 toRequester);
}
