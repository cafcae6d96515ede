//! Fuzz target `pipeline`: UPDATE bytes from four peers through decode → import → RIB →
//! export, checked against a brute-force model (see `src/pipeline.rs`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    peerex_fuzz::pipeline::run(data);
});
