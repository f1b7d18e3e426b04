//! A Golomb-coded set (Rice-coded, the power-of-two case of Golomb codes)
//! of resource fingerprints, carried in a cookie so the server knows what a
//! client probably has cached: the idea of H2O's CASPer and of the Cache
//! Digests draft, in pushlab's own encoding.
//!
//! Fingerprints are `UNIVERSE_BITS`-bit hashes of path and ETag. Because
//! the universe is fixed, two sets merge by decoding, uniting and encoding
//! again, which lets the server add what it sent on this connection to
//! what the client reported. A false positive (a resource skipped that the
//! client does not have) happens with probability about N / 2^26.
//!
//! Layout: version byte (1), universe bits (1 byte), entry count (QUIC
//! varint), then the sorted deltas, each as a unary quotient (ones ended by
//! a zero) and a `k`-bit remainder, `k = max(0, U - ceil(log2 N))`.
//! The cookie value is that, base64url without padding.

use base64::Engine;

use crate::wire::varint;

/// Bits of each fingerprint.
pub const UNIVERSE_BITS: u8 = 26;
/// Most entries kept (a cookie stays under 4 KB).
pub const MAX_ENTRIES: usize = 800;
/// The cookie's name.
pub const COOKIE: &str = "pushlab-cache";

/// A set that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GcsError {
    /// Not base64url.
    #[error("cache digest is not base64url")]
    Base64,
    /// Unknown version or universe.
    #[error("cache digest has an unknown format")]
    Format,
    /// The bit stream ended early or a value leaves the universe.
    #[error("cache digest is truncated or corrupt")]
    Corrupt,
}

/// The fingerprint of a resource version.
pub fn fingerprint(path: &str, etag: &str) -> u32 {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(path.as_bytes());
    ctx.update(b"\0");
    ctx.update(etag.as_bytes());
    let d = ctx.finish();
    let b = d.as_ref();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) >> (32 - UNIVERSE_BITS)
}

fn rice_k(n: usize) -> u32 {
    let log2n = usize::BITS - n.max(1).saturating_sub(1).leading_zeros();
    u32::from(UNIVERSE_BITS).saturating_sub(log2n)
}

struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    bits: u32,
}

impl BitWriter {
    fn put(&mut self, value: u64, n: u32) {
        for i in (0..n).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.bits += 1;
            if self.bits == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.bits = 0;
            }
        }
    }
    fn finish(mut self) -> Vec<u8> {
        if self.bits > 0 {
            self.out.push((self.acc << (8 - self.bits)) as u8);
        }
        self.out
    }
}

/// Encodes a set of fingerprints (deduplicated and sorted here).
pub fn encode(values: &[u32]) -> Vec<u8> {
    let mut v: Vec<u32> = values.to_vec();
    v.sort_unstable();
    v.dedup();
    v.truncate(MAX_ENTRIES);
    let mut head = vec![1u8, UNIVERSE_BITS];
    varint::put(v.len() as u64, &mut head);
    let k = rice_k(v.len());
    let mut w = BitWriter {
        out: head,
        acc: 0,
        bits: 0,
    };
    let mut prev = 0u32;
    for x in v {
        let delta = u64::from(x - prev);
        prev = x;
        let q = delta >> k;
        for _ in 0..q {
            w.put(1, 1);
        }
        w.put(0, 1);
        w.put(delta & ((1u64 << k) - 1), k);
    }
    w.finish()
}

/// Decodes a set; never panics on hostile input.
pub fn decode(data: &[u8]) -> Result<Vec<u32>, GcsError> {
    if data.len() < 3 || data[0] != 1 || data[1] != UNIVERSE_BITS {
        return Err(GcsError::Format);
    }
    let (n, used) = varint::decode(&data[2..]).map_err(|_| GcsError::Corrupt)?;
    let n = usize::try_from(n).map_err(|_| GcsError::Corrupt)?;
    if n > MAX_ENTRIES {
        return Err(GcsError::Corrupt);
    }
    let bits = &data[2 + used..];
    let k = rice_k(n);
    let total = bits.len() * 8;
    let mut pos = 0usize;
    let bit = |pos: usize| -> Option<u64> {
        (pos < total).then(|| u64::from((bits[pos / 8] >> (7 - pos % 8)) & 1))
    };
    let mut out = Vec::with_capacity(n);
    let mut prev = 0u64;
    let limit = 1u64 << UNIVERSE_BITS;
    for _ in 0..n {
        let mut q = 0u64;
        while bit(pos).ok_or(GcsError::Corrupt)? == 1 {
            q += 1;
            pos += 1;
            if q > limit {
                return Err(GcsError::Corrupt);
            }
        }
        pos += 1;
        let mut r = 0u64;
        for _ in 0..k {
            r = (r << 1) | bit(pos).ok_or(GcsError::Corrupt)?;
            pos += 1;
        }
        prev += (q << k) | r;
        if prev >= limit {
            return Err(GcsError::Corrupt);
        }
        out.push(prev as u32);
    }
    Ok(out)
}

/// The cookie value for a set.
pub fn to_cookie(values: &[u32]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(encode(values))
}

/// The set in a cookie value.
pub fn from_cookie(value: &str) -> Result<Vec<u32>, GcsError> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.trim())
        .map_err(|_| GcsError::Base64)?;
    decode(&raw)
}

/// Finds the cache-digest cookie in `cookie` header values.
pub fn find_cookie<'a>(cookie_headers: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    cookie_headers
        .into_iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_membership() {
        let keys: Vec<u32> = (0..50)
            .map(|i| fingerprint(&format!("/r{i}.js"), "\"e\""))
            .collect();
        let cookie = to_cookie(&keys);
        let back = from_cookie(&cookie).unwrap();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(back, sorted);
        // About 26 - 6 + 2 = 22 bits per entry.
        assert!(cookie.len() < 50 * 4, "cookie is {} chars", cookie.len());
        assert!(!back.contains(&fingerprint("/other.js", "\"e\"")));
        // A new ETag is a different fingerprint: a changed file is pushed again.
        assert_ne!(
            fingerprint("/r1.js", "\"e\""),
            fingerprint("/r1.js", "\"f\"")
        );
    }

    #[test]
    fn empty_and_union() {
        assert_eq!(from_cookie(&to_cookie(&[])).unwrap(), Vec::<u32>::new());
        let a = [fingerprint("/a", "1"), fingerprint("/b", "1")];
        let b = [fingerprint("/b", "1"), fingerprint("/c", "1")];
        let mut u = from_cookie(&to_cookie(&a)).unwrap();
        u.extend(from_cookie(&to_cookie(&b)).unwrap());
        assert_eq!(from_cookie(&to_cookie(&u)).unwrap().len(), 3);
    }

    #[test]
    fn cookie_lookup() {
        let v = find_cookie(["a=1; pushlab-cache=AQ; b=2"]);
        assert_eq!(v, Some("AQ"));
        assert_eq!(find_cookie(["a=1", "pushlab-cache=xyz"]), Some("xyz"));
        assert_eq!(find_cookie(["a=1"]), None);
    }

    #[test]
    fn hostile_digests_are_refused() {
        assert_eq!(from_cookie("%%%"), Err(GcsError::Base64));
        assert_eq!(decode(&[2, 26, 0]), Err(GcsError::Format));
        assert_eq!(decode(&[1, 26, 5]), Err(GcsError::Corrupt));
        assert_eq!(
            decode(&[1, 26, 0x43, 0xe8]),
            Err(GcsError::Corrupt),
            "1000 entries is over the cap"
        );
        // All ones: an endless unary quotient.
        assert_eq!(
            decode(&[1, 26, 1, 0xff, 0xff, 0xff, 0xff]),
            Err(GcsError::Corrupt)
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_sets_round_trip(mut v in proptest::collection::vec(0u32..(1 << UNIVERSE_BITS), 0..300)) {
            let back = decode(&encode(&v)).unwrap();
            v.sort_unstable();
            v.dedup();
            proptest::prop_assert_eq!(back, v);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = decode(&data);
        }
    }
}
