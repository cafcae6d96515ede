//! A bounds-checked cursor over a byte slice.
//!
//! Owns: the only way wire code reads integers and sub-slices. Every read returns `None` past
//! the end instead of panicking, so decoders never index out of bounds.

#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) const fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) const fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) const fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// What has not been read yet.
    pub(crate) const fn rest(&self) -> &'a [u8] {
        self.buf
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        let b = self.array::<2>()?;
        Some(u16::from_be_bytes(b))
    }

    pub(crate) fn u24(&mut self) -> Option<u32> {
        let b = self.array::<3>()?;
        Some(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        let b = self.array::<4>()?;
        Some(u32::from_be_bytes(b))
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.buf.split_first_chunk::<N>()?;
        self.buf = rest;
        Some(*head)
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_end() {
        let mut r = Reader::new(&[1, 2, 3, 4, 5]);
        assert_eq!(r.u8(), Some(1));
        assert_eq!(r.u16(), Some(0x0203));
        assert_eq!(r.u32(), None);
        assert_eq!(r.remaining(), 2);
        assert_eq!(r.take(3), None);
        assert_eq!(r.take(2), Some(&[4u8, 5][..]));
        assert!(r.is_empty());
        assert_eq!(r.u8(), None);
        let mut r = Reader::new(&[0, 1, 2]);
        assert_eq!(r.u24(), Some(0x000102));
    }
}
