//! Fuzz target `open`. Input: an OPEN body (version onwards); the target adds the header.
//! Checks are in `src/lib.rs`; a round-trip mismatch panics.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    peerex_fuzz::fuzz_open_body(data);
});
