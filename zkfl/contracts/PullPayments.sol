// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {ICoordinator} from "./ICoordinator.sol";

/// @title Pull payments: credit, then let the payee withdraw
/// @notice Every wei the coordinator owes (stakes, rewards, bonds, challenger shares, model bonds)
///         is credited here first. A payee that rejects ether blocks only its own withdrawal, never
///         the slashing, settlement or finalization that credited it (OpenZeppelin's PullPayment).
abstract contract PullPayments is ICoordinator {
    mapping(address => uint256) private _credits;

    /// @notice Wei credited to `payee` and not yet withdrawn.
    function payments(address payee) public view returns (uint256) {
        return _credits[payee];
    }

    /// @notice Send `payee` everything credited to it (anyone may trigger it; the wei goes to the payee).
    function withdrawPayments(address payable payee) external {
        uint256 amount = _credits[payee];
        if (amount == 0) revert NothingToWithdraw(payee);
        _credits[payee] = 0;
        emit PaymentWithdrawn(payee, amount);
        (bool ok,) = payee.call{value: amount}("");
        if (!ok) revert TransferFailed(payee, amount);
    }

    function _credit(address payee, uint256 amount) internal {
        if (amount == 0) return;
        _credits[payee] += amount;
        emit PaymentCredited(payee, amount);
    }
}
