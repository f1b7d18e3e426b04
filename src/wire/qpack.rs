//! A static-table-only QPACK encoder and decoder (RFC 9204), with the HPACK
//! Huffman code (RFC 7541 section 5.2 and appendix B).
//!
//! pushlab never allows the peer a dynamic table (it sends
//! SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0) and never uses one itself, so every
//! field section it sends or accepts has Required Insert Count 0. That is
//! always valid to send, and it is all a push stream's HEADERS or a
//! PUSH_PROMISE needs: h3 0.0.8 keeps its own encoder private.

use std::sync::OnceLock;

use bytes::{BufMut, Bytes, BytesMut};

use super::huffman_table::{EOS, HUFFMAN_CODES};
use super::qpack_static::{find, STATIC_TABLE};

/// A field section that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QpackError {
    /// The section ended in the middle of a representation.
    #[error("field section is truncated")]
    Truncated,
    /// A prefixed integer does not fit in 62 bits.
    #[error("prefixed integer overflows")]
    IntegerOverflow,
    /// A Huffman-coded string is invalid (bad padding or EOS inside).
    #[error("invalid Huffman-coded string")]
    Huffman,
    /// The section refers to the dynamic table, which this endpoint never allows.
    #[error("field section refers to the dynamic table, which has capacity 0")]
    DynamicReference,
    /// A static table index beyond the 99 entries.
    #[error("static table index {0} does not exist")]
    BadStaticIndex(u64),
    /// The decoded section is larger than the limit (RFC 9114 section 4.2.2).
    #[error("field section size {size} exceeds the limit of {limit}")]
    TooLarge {
        /// Size as RFC 9114 counts it (name + value + 32 per field).
        size: u64,
        /// The limit in force.
        limit: u64,
    },
}

/// Appends an integer with an `n`-bit prefix; `first` holds the bits above
/// the prefix.
//= https://www.rfc-editor.org/rfc/rfc7541#section-5.1
//# If the integer value is small enough, i.e., strictly less than 2^N-1, it
//# is encoded within the N-bit prefix.
pub fn put_int(out: &mut BytesMut, first: u8, n: u8, mut v: u64) {
    let max = (1u64 << n) - 1;
    if v < max {
        out.put_u8(first | v as u8);
        return;
    }
    out.put_u8(first | max as u8);
    v -= max;
    while v >= 128 {
        out.put_u8((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.put_u8(v as u8);
}

/// Reads an integer with an `n`-bit prefix from `input[*pos..]`.
pub fn get_int(input: &[u8], pos: &mut usize, n: u8) -> Result<u64, QpackError> {
    let first = *input.get(*pos).ok_or(QpackError::Truncated)?;
    *pos += 1;
    let max = (1u64 << n) - 1;
    let mut v = u64::from(first) & max;
    if v < max {
        return Ok(v);
    }
    let mut shift = 0u32;
    loop {
        let b = *input.get(*pos).ok_or(QpackError::Truncated)?;
        *pos += 1;
        if shift > 56 {
            return Err(QpackError::IntegerOverflow);
        }
        v = v
            .checked_add(u64::from(b & 0x7f) << shift)
            .ok_or(QpackError::IntegerOverflow)?;
        shift += 7;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
}

/// Huffman-encodes `s`.
pub fn huffman_encode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    for &b in s {
        let (code, len) = HUFFMAN_CODES[b as usize];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1u64 << bits) - 1;
    }
    if bits > 0 {
        //= https://www.rfc-editor.org/rfc/rfc7541#section-5.2
        //# As the Huffman-encoded data doesn't always end at an octet
        //# boundary, some padding is inserted after it, up to the next octet
        //# boundary.  To prevent this padding from being misinterpreted as
        //# part of the string literal, the most significant bits of the code
        //# corresponding to the EOS (end-of-string) symbol are used.
        let pad = 8 - bits;
        out.push(((acc << pad) as u8) | ((1u8 << pad) - 1));
    }
    out
}

/// The length `s` would have Huffman-encoded.
pub fn huffman_len(s: &[u8]) -> usize {
    let bits: usize = s
        .iter()
        .map(|&b| usize::from(HUFFMAN_CODES[b as usize].1))
        .sum();
    bits.div_ceil(8)
}

/// Decoding tree: node `i` has children `tree[i][bit]`; a value >= 0 is
/// another node, a negative value `-(sym + 1)` is a leaf.
fn tree() -> &'static Vec<[i32; 2]> {
    static TREE: OnceLock<Vec<[i32; 2]>> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut t: Vec<[i32; 2]> = vec![[0, 0]];
        for (sym, &(code, len)) in HUFFMAN_CODES.iter().enumerate() {
            let mut node = 0usize;
            for i in (0..len).rev() {
                let bit = ((code >> i) & 1) as usize;
                if i == 0 {
                    t[node][bit] = -(sym as i32 + 1);
                } else {
                    if t[node][bit] == 0 {
                        t.push([0, 0]);
                        t[node][bit] = (t.len() - 1) as i32;
                    }
                    node = t[node][bit] as usize;
                }
            }
        }
        t
    })
}

/// Decodes a Huffman-coded string.
pub fn huffman_decode(input: &[u8]) -> Result<Vec<u8>, QpackError> {
    let t = tree();
    let mut out = Vec::with_capacity(input.len() * 8 / 5);
    let mut node = 0usize;
    // Bits consumed since the last complete symbol, and whether all were 1.
    let mut pending_bits = 0u32;
    let mut all_ones = true;
    for &byte in input {
        for i in (0..8).rev() {
            let bit = ((byte >> i) & 1) as usize;
            pending_bits += 1;
            all_ones &= bit == 1;
            let next = t[node][bit];
            if next < 0 {
                let sym = (-next - 1) as usize;
                //= https://www.rfc-editor.org/rfc/rfc7541#section-5.2
                //# A Huffman-encoded string literal containing the EOS symbol
                //# MUST be treated as a decoding error.
                if sym == EOS {
                    return Err(QpackError::Huffman);
                }
                out.push(sym as u8);
                node = 0;
                pending_bits = 0;
                all_ones = true;
            } else if next == 0 {
                return Err(QpackError::Huffman);
            } else {
                node = next as usize;
            }
        }
    }
    //= https://www.rfc-editor.org/rfc/rfc7541#section-5.2
    //# A padding strictly longer than 7 bits MUST be treated as a decoding
    //# error.  A padding not corresponding to the most significant bits of
    //# the code for the EOS symbol MUST be treated as a decoding error.
    if pending_bits > 7 || !all_ones {
        return Err(QpackError::Huffman);
    }
    Ok(out)
}

/// Appends a string literal with an `n`-bit length prefix; the Huffman flag
/// is the bit just above the prefix. Uses Huffman coding when shorter.
fn put_string(out: &mut BytesMut, first: u8, n: u8, s: &[u8]) {
    let h = 1u8 << n;
    let hlen = huffman_len(s);
    if hlen < s.len() {
        put_int(out, first | h, n, hlen as u64);
        out.put_slice(&huffman_encode(s));
    } else {
        put_int(out, first, n, s.len() as u64);
        out.put_slice(s);
    }
}

fn get_string(input: &[u8], pos: &mut usize, n: u8) -> Result<Vec<u8>, QpackError> {
    let huffman = input.get(*pos).ok_or(QpackError::Truncated)? & (1u8 << n) != 0;
    let len = get_int(input, pos, n)?;
    let len = usize::try_from(len).map_err(|_| QpackError::IntegerOverflow)?;
    let end = pos.checked_add(len).ok_or(QpackError::Truncated)?;
    let raw = input.get(*pos..end).ok_or(QpackError::Truncated)?;
    *pos = end;
    if huffman {
        huffman_decode(raw)
    } else {
        Ok(raw.to_vec())
    }
}

/// Encodes a field section using only the static table.
///
/// Names must already be lowercase (HTTP/3 requires it); pseudo-header
/// fields must come first, which is the caller's order.
//= https://www.rfc-editor.org/rfc/rfc9204#section-4.5.1
//# Each encoded field section is prefixed with two integers.  The Required
//# Insert Count is encoded as an integer with an 8-bit prefix using the
//# encoding described in Section 4.5.1.1.  The Base is encoded as a Sign bit
//# ('S') and a Delta Base value with a 7-bit prefix; see Section 4.5.1.2.
pub fn encode<'a, I>(fields: I) -> Bytes
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    let mut out = BytesMut::new();
    // Required Insert Count 0, Base 0.
    out.put_u8(0);
    out.put_u8(0);
    for (name, value) in fields {
        let found = match (std::str::from_utf8(name), std::str::from_utf8(value)) {
            (Ok(n), Ok(v)) => find(n, v),
            (Ok(n), Err(_)) => find(n, "\u{0}").map(|(i, _)| (i, false)),
            _ => None,
        };
        match found {
            //= https://www.rfc-editor.org/rfc/rfc9204#section-4.5.2
            //# An indexed field line representation identifies an entry in the
            //# static table or an entry in the dynamic table with an absolute
            //# index less than the value of the Base.
            Some((index, true)) => put_int(&mut out, 0b1100_0000, 6, index as u64),
            //= https://www.rfc-editor.org/rfc/rfc9204#section-4.5.4
            //# A literal field line with name reference representation encodes a
            //# field line where the field name matches the field name of an entry
            //# in the static table or the field name of an entry in the dynamic
            //# table with an absolute index less than the value of the Base.
            Some((index, false)) => {
                put_int(&mut out, 0b0101_0000, 4, index as u64);
                put_string(&mut out, 0, 7, value);
            }
            //= https://www.rfc-editor.org/rfc/rfc9204#section-4.5.6
            //# The literal field line with literal name representation encodes a
            //# field name and a field value as string literals.
            None => {
                put_string(&mut out, 0b0010_0000, 3, name);
                put_string(&mut out, 0, 7, value);
            }
        }
    }
    out.freeze()
}

/// A decoded field line.
pub type Field = (Bytes, Bytes);

/// Decodes a field section that uses only the static table.
///
/// `limit` bounds the section's size as RFC 9114 section 4.2.2 counts it.
pub fn decode(block: &[u8], limit: u64) -> Result<Vec<Field>, QpackError> {
    let mut pos = 0usize;
    let ric = get_int(block, &mut pos, 8)?;
    //= https://www.rfc-editor.org/rfc/rfc9204#section-2.2.3
    //# If the decoder encounters a reference in a field line representation
    //# to a dynamic table entry that has already been evicted or that has an
    //# absolute index greater than or equal to the declared Required Insert
    //# Count (Section 4.5.1), it MUST treat this as a connection error of
    //# type QPACK_DECOMPRESSION_FAILED.
    if ric != 0 {
        return Err(QpackError::DynamicReference);
    }
    let _delta_base = get_int(block, &mut pos, 7)?;
    let mut fields = Vec::new();
    let mut size: u64 = 0;
    let static_entry = |i: u64| -> Result<(&'static str, &'static str), QpackError> {
        usize::try_from(i)
            .ok()
            .and_then(|i| STATIC_TABLE.get(i).copied())
            .ok_or(QpackError::BadStaticIndex(i))
    };
    while pos < block.len() {
        let b = block[pos];
        let (name, value): (Bytes, Bytes) = if b & 0x80 != 0 {
            // Indexed field line; T bit 0x40.
            if b & 0x40 == 0 {
                return Err(QpackError::DynamicReference);
            }
            let i = get_int(block, &mut pos, 6)?;
            let (n, v) = static_entry(i)?;
            (
                Bytes::from_static(n.as_bytes()),
                Bytes::from_static(v.as_bytes()),
            )
        } else if b & 0x40 != 0 {
            // Literal with name reference; N 0x20, T 0x10.
            if b & 0x10 == 0 {
                return Err(QpackError::DynamicReference);
            }
            let i = get_int(block, &mut pos, 4)?;
            let (n, _) = static_entry(i)?;
            let v = get_string(block, &mut pos, 7)?;
            (Bytes::from_static(n.as_bytes()), Bytes::from(v))
        } else if b & 0x20 != 0 {
            // Literal with literal name; N 0x10, H 0x08, 3-bit length prefix.
            let n = get_string(block, &mut pos, 3)?;
            let v = get_string(block, &mut pos, 7)?;
            (Bytes::from(n), Bytes::from(v))
        } else {
            // Post-base forms (0001xxxx, 0000xxxx) always reference the dynamic table.
            return Err(QpackError::DynamicReference);
        };
        //= https://www.rfc-editor.org/rfc/rfc9114#section-4.2.2
        //# The size of a field list is calculated based on the uncompressed
        //# size of fields, including the length of the name and value in
        //# bytes plus an overhead of 32 bytes for each field.
        size += name.len() as u64 + value.len() as u64 + 32;
        if size > limit {
            return Err(QpackError::TooLarge { size, limit });
        }
        fields.push((name, value));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        crate::hex::decode(s).expect("test vectors are hex")
    }

    /// RFC 7541 C.4.1: "www.example.com" Huffman-coded.
    #[test]
    fn huffman_rfc_example() {
        let enc = huffman_encode(b"www.example.com");
        assert_eq!(enc, hex("f1e3c2e5f23a6ba0ab90f4ff"));
        assert_eq!(huffman_decode(&enc).unwrap(), b"www.example.com");
        assert_eq!(huffman_len(b"www.example.com"), 12);
    }

    /// RFC 7541 C.1: integer examples.
    #[test]
    fn integers_rfc_examples() {
        let mut out = BytesMut::new();
        put_int(&mut out, 0, 5, 10);
        assert_eq!(&out[..], &[0b01010]);
        let mut out = BytesMut::new();
        put_int(&mut out, 0, 5, 1337);
        assert_eq!(&out[..], &[0b11111, 0b10011010, 0b00001010]);
        let mut pos = 0;
        assert_eq!(get_int(&out, &mut pos, 5).unwrap(), 1337);
        let mut pos = 0;
        assert_eq!(
            get_int(&[0xff; 20], &mut pos, 8),
            Err(QpackError::IntegerOverflow)
        );
    }

    #[test]
    fn huffman_rejects_bad_padding_and_eos() {
        // 'a' is 00011 (5 bits); padding with zeros is invalid.
        assert_eq!(huffman_decode(&[0b0001_1000]), Err(QpackError::Huffman));
        assert_eq!(huffman_decode(&[0b0001_1111]).unwrap(), b"a");
        // A full byte of padding is too long.
        assert_eq!(
            huffman_decode(&[0b0001_1111, 0xff]),
            Err(QpackError::Huffman)
        );
        // EOS (30 ones) inside the string.
        assert_eq!(
            huffman_decode(&[0xff, 0xff, 0xff, 0xfc]),
            Err(QpackError::Huffman)
        );
    }

    /// Every byte value round-trips through the Huffman code.
    #[test]
    fn huffman_all_bytes() {
        let all: Vec<u8> = (0..=255u8).collect();
        assert_eq!(huffman_decode(&huffman_encode(&all)).unwrap(), all);
    }

    /// Indexed, name-reference and literal-name representations round-trip.
    #[test]
    fn section_round_trip() {
        let fields: Vec<(&[u8], &[u8])> = vec![
            (b":status", b"200"),
            (b":status", b"103"),
            (b"content-type", b"text/css"),
            (b"link", b"</style.css>; rel=preload; as=style"),
            (b"x-pushlab", b"yes"),
            (b"etag", b"\"abc\""),
            (b"x-binary", &[0x80, 0xff]),
        ];
        let block = encode(fields.iter().copied());
        let decoded = decode(&block, 1 << 16).unwrap();
        let got: Vec<(&[u8], &[u8])> = decoded.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        assert_eq!(got, fields);
        // ":status: 200" is static index 25: one byte 0xc0 | 25.
        assert_eq!(block[2], 0xc0 | 25);
    }

    #[test]
    fn decode_refuses_dynamic_references_and_oversize() {
        // Required Insert Count 1.
        assert_eq!(
            decode(&[0x01, 0x00], 100),
            Err(QpackError::DynamicReference)
        );
        // Indexed field line with T=0 (dynamic).
        assert_eq!(
            decode(&[0x00, 0x00, 0x81], 100),
            Err(QpackError::DynamicReference)
        );
        // Post-base index.
        assert_eq!(
            decode(&[0x00, 0x00, 0x10], 100),
            Err(QpackError::DynamicReference)
        );
        // Static index 99 does not exist.
        assert_eq!(
            decode(&[0x00, 0x00, 0xff, 0x24], 100),
            Err(QpackError::BadStaticIndex(99))
        );
        // Truncated literal.
        assert_eq!(
            decode(&[0x00, 0x00, 0x5f, 0x1d, 0x05, b'a'], 100),
            Err(QpackError::Truncated)
        );
        let block = encode([(b"x-a".as_slice(), [b'v'; 100].as_slice())]);
        assert!(matches!(
            decode(&block, 100),
            Err(QpackError::TooLarge { .. })
        ));
    }

    proptest::proptest! {
        /// Arbitrary input never panics the decoder.
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = decode(&data, 4096);
        }

        /// Arbitrary field lines round-trip.
        #[test]
        fn arbitrary_round_trip(fields in proptest::collection::vec(("[a-z-]{1,20}", proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)), 0..10)) {
            let f: Vec<(&[u8], &[u8])> = fields.iter().map(|(n, v)| (n.as_bytes(), v.as_slice())).collect();
            let block = encode(f.iter().copied());
            let decoded = decode(&block, u64::MAX).unwrap();
            let got: Vec<(&[u8], &[u8])> = decoded.iter().map(|(n, v)| (&n[..], &v[..])).collect();
            proptest::prop_assert_eq!(got, f);
        }
    }
}
