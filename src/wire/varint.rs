//! QUIC variable-length integers (RFC 9000 section 16), used by every
//! HTTP/3 frame and stream header.

use bytes::BufMut;

/// The largest value a varint can hold (2^62 - 1).
pub const MAX: u64 = (1 << 62) - 1;

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VarIntError {
    /// The input ended inside the integer; more bytes may complete it.
    #[error("input ends inside a variable-length integer")]
    Incomplete,
    /// The value does not fit in 62 bits (only when encoding).
    #[error("value {0} does not fit in a QUIC variable-length integer")]
    TooLarge(u64),
}

/// Decodes one varint from the start of `input`; returns it and its length.
//= https://www.rfc-editor.org/rfc/rfc9000#section-16
//# The QUIC variable-length integer encoding reserves the two most
//# significant bits of the first byte to encode the base-2 logarithm of the
//# integer encoding length in bytes.
pub fn decode(input: &[u8]) -> Result<(u64, usize), VarIntError> {
    let first = *input.first().ok_or(VarIntError::Incomplete)?;
    let len = 1usize << (first >> 6);
    if input.len() < len {
        return Err(VarIntError::Incomplete);
    }
    let mut v = u64::from(first & 0x3f);
    for b in &input[1..len] {
        v = (v << 8) | u64::from(*b);
    }
    Ok((v, len))
}

/// The number of bytes `v` takes encoded.
pub fn size(v: u64) -> usize {
    match v {
        0..=63 => 1,
        64..=16383 => 2,
        16384..=1_073_741_823 => 4,
        _ => 8,
    }
}

/// Appends `v` in the shortest encoding.
pub fn encode<B: BufMut>(v: u64, out: &mut B) -> Result<(), VarIntError> {
    if v > MAX {
        return Err(VarIntError::TooLarge(v));
    }
    match size(v) {
        1 => out.put_u8(v as u8),
        2 => out.put_u16(0x4000 | v as u16),
        4 => out.put_u32(0x8000_0000 | v as u32),
        _ => out.put_u64(0xc000_0000_0000_0000 | v),
    }
    Ok(())
}

/// Appends `v`, which the caller knows is at most [`MAX`] (a stream ID,
/// push ID, frame type or length computed locally).
pub fn put<B: BufMut>(v: u64, out: &mut B) {
    let v = v.min(MAX);
    // Cannot fail: clamped above.
    let _ = encode(v, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of RFC 9000 appendix A.1.
    #[test]
    fn rfc9000_examples() {
        let cases: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (bytes, value) in cases {
            assert_eq!(decode(bytes), Ok((value, bytes.len())));
            let mut out = Vec::new();
            encode(value, &mut out).unwrap();
            assert_eq!(out, bytes);
        }
        // A two-byte encoding of 37 is valid too.
        assert_eq!(decode(&[0x40, 0x25]), Ok((37, 2)));
    }

    #[test]
    fn incomplete_and_too_large() {
        assert_eq!(decode(&[]), Err(VarIntError::Incomplete));
        assert_eq!(decode(&[0x9d, 0x7f]), Err(VarIntError::Incomplete));
        assert_eq!(
            encode(MAX + 1, &mut Vec::new()),
            Err(VarIntError::TooLarge(MAX + 1))
        );
    }

    #[test]
    fn round_trip_boundaries() {
        for v in [0, 63, 64, 16383, 16384, 1_073_741_823, 1_073_741_824, MAX] {
            let mut out = Vec::new();
            encode(v, &mut out).unwrap();
            assert_eq!(out.len(), size(v));
            assert_eq!(decode(&out), Ok((v, out.len())));
        }
    }
}
