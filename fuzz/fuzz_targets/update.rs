//! Fuzz target `update`. Input: a context byte, then an UPDATE body (withdrawn routes length
//! onwards); the target adds the header.
//! Checks are in `src/lib.rs`; a round-trip mismatch panics.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    peerex_fuzz::fuzz_update_body(data);
});
