//! Corrupting an IP packet the way a faulty link would, but so that the
//! damage reaches the transport (QUIC's packet protection, TCP's stream)
//! instead of being dropped by the receiving kernel for a bad checksum: one
//! byte of the UDP or TCP payload changed, and the checksum recomputed.
//! Pure: bytes in, bytes out.

/// IP protocol numbers.
const TCP: u8 = 6;
const UDP: u8 = 17;

/// The transport header's offset, protocol and the pseudo-header sum, or
/// None for what is not plain IPv4/IPv6 TCP or UDP (extension headers,
/// fragments, anything short).
fn transport(pkt: &[u8]) -> Option<(usize, u8, u32)> {
    match pkt.first()? >> 4 {
        4 => {
            let ihl = usize::from(pkt[0] & 0x0f) * 4;
            if ihl < 20 || pkt.len() < ihl {
                return None;
            }
            // A fragment other than the first has no transport header.
            let frag = u16::from_be_bytes([pkt[6], pkt[7]]);
            if frag & 0x3fff != 0 {
                return None;
            }
            let proto = pkt[9];
            let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
            if total != pkt.len() {
                return None;
            }
            let l4 = (total - ihl) as u32;
            let pseudo = sum(&pkt[12..20]) + u32::from(proto) + l4;
            Some((ihl, proto, pseudo))
        }
        6 => {
            if pkt.len() < 40 {
                return None;
            }
            let proto = pkt[6];
            let l4 = (pkt.len() - 40) as u32;
            let pseudo = sum(&pkt[8..40]) + u32::from(proto) + l4;
            Some((40, proto, pseudo))
        }
        _ => None,
    }
}

/// The one's-complement sum of 16-bit words (an odd last byte padded).
fn sum(b: &[u8]) -> u32 {
    let mut s = 0u32;
    let mut chunks = b.chunks_exact(2);
    for c in &mut chunks {
        s += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        s += u32::from(*last) << 8;
    }
    s
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Changes one byte of the packet's UDP or TCP payload (the one `pick`
/// selects, modulo the payload's length; XOR with `flip`, made non-zero)
/// and recomputes the transport checksum. Returns false, leaving the packet
/// as it was, when it has no such payload.
pub fn corrupt(pkt: &mut [u8], pick: usize, flip: u8) -> bool {
    let Some((off, proto, pseudo)) = transport(pkt) else {
        return false;
    };
    let (header, ck) = match proto {
        UDP => (8, 6),
        TCP => {
            let Some(&b) = pkt.get(off + 12) else {
                return false;
            };
            (usize::from(b >> 4) * 4, 16)
        }
        _ => return false,
    };
    let start = off + header;
    if header < 8 || start >= pkt.len() {
        return false;
    }
    let i = start + pick % (pkt.len() - start);
    pkt[i] ^= flip.max(1);
    pkt[off + ck] = 0;
    pkt[off + ck + 1] = 0;
    let mut c = fold(pseudo + sum(&pkt[off..]));
    //= https://www.rfc-editor.org/rfc/rfc768
    //# If the computed  checksum  is zero,  it is transmitted  as all ones
    if proto == UDP && c == 0 {
        c = 0xffff;
    }
    pkt[off + ck..off + ck + 2].copy_from_slice(&c.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the transport checksum verifies (sum over pseudo-header and
    /// segment folds to zero).
    fn verifies(pkt: &[u8]) -> bool {
        let (off, _, pseudo) = transport(pkt).expect("a transport header");
        fold(pseudo + sum(&pkt[off..])) == 0
    }

    fn udp4(payload: &[u8]) -> Vec<u8> {
        let total = 28 + payload.len();
        let mut p = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            UDP,
            0,
            0,
        ];
        p.extend([10, 0, 0, 1, 10, 0, 0, 2]);
        let ulen = 8 + payload.len();
        p.extend([0x12, 0x34, 0x01, 0xbb, (ulen >> 8) as u8, ulen as u8, 0, 0]);
        p.extend(payload);
        // A correct checksum to start from: corrupt() with a no-op pick
        // is not available, so compute it here.
        let (off, _, pseudo) = transport(&p).expect("udp");
        let c = fold(pseudo + sum(&p[off..]));
        p[off + 6..off + 8].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn tcp6(payload: &[u8]) -> Vec<u8> {
        let plen = 20 + payload.len();
        let mut p = vec![0x60, 0, 0, 0, (plen >> 8) as u8, plen as u8, TCP, 64];
        p.extend([0xfd; 16]);
        p.extend([0xfe; 16]);
        p.extend([
            0x01, 0xbb, 0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff,
        ]);
        p.extend([0, 0, 0, 0]);
        p.extend(payload);
        let (off, _, pseudo) = transport(&p).expect("tcp");
        let c = fold(pseudo + sum(&p[off..]));
        p[off + 16..off + 18].copy_from_slice(&c.to_be_bytes());
        p
    }

    /// One payload byte changes, the headers do not, and the checksum
    /// still verifies: UDP over IPv4 and TCP over IPv6, odd lengths too.
    #[test]
    fn one_payload_byte_with_a_valid_checksum() {
        for (orig, hdr) in [
            (udp4(b"quic packet bytes"), 28),
            (udp4(b"odd"), 28),
            (tcp6(b"GET / HTTP/1.1\r\n"), 60),
        ] {
            assert!(verifies(&orig));
            for pick in [0, 1, 7, 1000] {
                let mut p = orig.clone();
                assert!(corrupt(&mut p, pick, 0x40));
                assert!(verifies(&p), "checksum after corruption");
                assert_eq!(
                    p[..hdr - 10],
                    orig[..hdr - 10],
                    "headers before the checksum"
                );
                let changed: Vec<usize> = (hdr..p.len()).filter(|&i| p[i] != orig[i]).collect();
                assert_eq!(changed.len(), 1, "{changed:?}");
            }
        }
    }

    /// What has no payload to change, or is not plain TCP/UDP over IP,
    /// is left alone.
    #[test]
    fn leaves_what_it_cannot_corrupt() {
        let mut empty = udp4(b"");
        let before = empty.clone();
        assert!(!corrupt(&mut empty, 3, 1));
        assert_eq!(empty, before);
        for mut junk in [vec![], vec![0x45], vec![0x99; 60], {
            let mut frag = udp4(b"abc");
            frag[7] = 8; // a later fragment
            frag
        }] {
            let before = junk.clone();
            assert!(!corrupt(&mut junk, 1, 1));
            assert_eq!(junk, before);
        }
        let mut icmp = udp4(b"abcd");
        icmp[9] = 1;
        assert!(!corrupt(&mut icmp, 0, 1));
    }
}
