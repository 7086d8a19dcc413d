"""Secure aggregation that stays publicly verifiable (SecAgg+ over BN254's scalar field).

Clients upload only masked updates; the aggregator learns only their sum, and anyone checks, with
no secret, each masked upload against its proof's update commitment and the sum against the
chain's (`checks`). Modules: `prg` (masks), `keys` (key agreement), `graph` (neighbours),
`shares` (Shamir shares, sealed), `terms` (a round's parameters and the unmask rule), `masking`
(a client's steps), `unmasking` (the aggregator's), `checks` (anyone's), `local` (every step in
one process)."""

from zkfl.privacy.checks import masking_problem, settle_pairs, sum_problem
from zkfl.privacy.local import PublicRecord, run_local
from zkfl.privacy.masking import Advertisement, ClientSecrets, MaskedUpload, Reveal, ShareBundle
from zkfl.privacy.terms import MaskingTerms, round_domain, unmask_problem
from zkfl.privacy.unmasking import Unmasked, unmask

__all__ = [
    "Advertisement",
    "ClientSecrets",
    "MaskedUpload",
    "MaskingTerms",
    "PublicRecord",
    "Reveal",
    "ShareBundle",
    "Unmasked",
    "masking_problem",
    "round_domain",
    "run_local",
    "settle_pairs",
    "sum_problem",
    "unmask",
    "unmask_problem",
]
