// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title A bitmap of occupied client slots, 256 a word
/// @notice Registration finds the lowest free slot in K / 256 reads, not K.
library SlotBitmap {
    /// @notice The lowest free slot below `slots`, or `slots` when every one is taken.
    function lowestFree(mapping(uint256 => uint256) storage occupied, uint256 slots) internal view returns (uint256) {
        for (uint256 word = 0; word << 8 < slots; ++word) {
            uint256 bits = occupied[word];
            if (bits == type(uint256).max) continue;
            uint256 free = ~bits & (bits + 1); // the lowest zero bit, alone
            uint256 slot = word << 8;
            for (uint256 half = 128; half > 0; half >>= 1) {
                if (free >> half != 0) {
                    free >>= half;
                    slot += half;
                }
            }
            return slot < slots ? slot : slots;
        }
        return slots;
    }

    function occupy(mapping(uint256 => uint256) storage occupied, uint256 slot) internal {
        occupied[slot >> 8] |= 1 << (slot & 0xff);
    }

    function free(mapping(uint256 => uint256) storage occupied, uint256 slot) internal {
        occupied[slot >> 8] &= ~(1 << (slot & 0xff));
    }
}
