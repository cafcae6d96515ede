//! Fuzz target `message`. Input: a context byte (see `peerex_fuzz::ctx_from_byte`), then one
//! whole BGP message.
//! Checks are in `src/lib.rs`; a round-trip mismatch panics.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    peerex_fuzz::fuzz_message(data);
});
