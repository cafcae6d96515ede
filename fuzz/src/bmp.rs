//! Checks for the `bmp` target: `peerex::bmp::msg::Message::decode` on arbitrary octets.
//!
//! A decoder panic fails. A message that decodes is encoded again, and that encoding must
//! decode to the same message taking all of its octets (the encoder may normalise what the
//! decoder ignores: the V flag follows the address, Loc-RIB addresses are zero-filled). A
//! decoded length must never exceed the input or the format's maximum.

use bytes::Bytes;
use peerex::bmp::msg::{Message, MAX_MESSAGE_LEN};

pub fn fuzz_bmp(data: &[u8]) {
    let mut buf = Bytes::copy_from_slice(data);
    // A stream: decode message after message, as a collector would.
    while let Ok(Some((m, used))) = Message::decode(&buf) {
        assert!(used <= buf.len() && used <= MAX_MESSAGE_LEN);
        let again = m.to_bytes();
        let (back, n) = Message::decode(&again)
            .expect("our encoding decodes")
            .expect("our encoding is whole");
        assert_eq!(n, again.len());
        assert_eq!(back, m);
        buf = buf.slice(used..);
    }
}
