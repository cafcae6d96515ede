//! Fuzz target `bmp`. Input: a stream of BMP messages. Checks are in `src/bmp.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    peerex_fuzz::bmp::fuzz_bmp(data);
});
