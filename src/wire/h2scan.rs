//! Follows the HTTP/2 frames a server writes (RFC 9113 section 4.1), to
//! learn when a stream's last frame has actually left h2 for the socket;
//! the SETTINGS a client sends, for the one value h2 keeps to itself; and
//! the DATA a client receives, as its bytes arrive ([`DataTap`]).
//!
//! h2 queues frames per stream and writes them round-robin, one frame per
//! stream per turn, so "handed to h2" is not "written": a push started when
//! its parent's response was handed over would go out between the parent's
//! PUSH_PROMISE, HEADERS and DATA frames. The scanner sees the bytes as they
//! are written and reports the frames that end a stream.

//= https://www.rfc-editor.org/rfc/rfc9113#section-4.1
//# All frames begin with a fixed 9-octet header followed by a variable-
//# length frame payload.

/// Frame types that matter here.
mod kind {
    pub const DATA: u8 = 0x0;
    pub const HEADERS: u8 = 0x1;
    pub const RST_STREAM: u8 = 0x3;
    pub const CONTINUATION: u8 = 0x9;
}

/// END_STREAM flag of DATA and HEADERS.
const END_STREAM: u8 = 0x1;
/// END_HEADERS flag of HEADERS and CONTINUATION.
const END_HEADERS: u8 = 0x4;

/// A frame header (RFC 9113 section 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    len: usize,
    ty: u8,
    flags: u8,
    stream: u32,
}

/// Collects a 9-octet frame header across reads of any size.
#[derive(Debug, Default)]
struct HeaderBuf {
    bytes: [u8; 9],
    have: usize,
}

impl HeaderBuf {
    /// Takes header bytes from the front of `buf`; the header once complete.
    fn fill(&mut self, buf: &mut &[u8]) -> Option<Header> {
        let n = (9 - self.have).min(buf.len());
        self.bytes[self.have..self.have + n].copy_from_slice(&buf[..n]);
        self.have += n;
        *buf = &buf[n..];
        if self.have < 9 {
            return None;
        }
        self.have = 0;
        let h = &self.bytes;
        //= https://www.rfc-editor.org/rfc/rfc9113#section-4.1
        //# Stream Identifier:  A stream identifier (see Section 5.1.1)
        //#    expressed as an unsigned 31-bit integer.  The value 0x00 is
        //#    reserved for frames that are associated with the connection as
        //#    a whole as opposed to an individual stream.
        Some(Header {
            len: (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]),
            ty: h[3],
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        })
    }
}

/// What a written frame means for its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The stream the frame belongs to.
    pub stream: u32,
    /// Payload bytes of DATA frames (what counts against flow control).
    pub data: u32,
    /// This frame ended the stream (END_STREAM once the header block is
    /// complete, or RST_STREAM).
    pub ended: bool,
}

/// Incremental frame-header scanner over a written byte stream.
#[derive(Debug, Default)]
pub struct FrameScanner {
    header: HeaderBuf,
    /// Payload bytes of the current frame still to skip.
    skip: usize,
    /// A HEADERS frame with END_STREAM whose header block continues in
    /// CONTINUATION frames: the stream ends with END_HEADERS.
    ending_after_block: Option<u32>,
    /// Bytes scanned so far.
    pub total: u64,
}

impl FrameScanner {
    /// A scanner at the start of the server's frame sequence.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scans bytes just written; appends one entry per completed frame
    /// header (the payload need not be written yet: h2 writes a frame's
    /// header and payload together, and what counts is the order).
    pub fn push(&mut self, mut buf: &[u8], out: &mut Vec<Written>) {
        self.total += buf.len() as u64;
        while !buf.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(buf.len());
                self.skip -= n;
                buf = &buf[n..];
                continue;
            }
            let Some(Header {
                len,
                ty,
                flags,
                stream,
            }) = self.header.fill(&mut buf)
            else {
                break;
            };
            self.skip = len;
            let w = match ty {
                kind::DATA => Written {
                    stream,
                    data: len as u32,
                    ended: flags & END_STREAM != 0,
                },
                kind::HEADERS => {
                    let ends = flags & END_STREAM != 0;
                    let complete = flags & END_HEADERS != 0;
                    if ends && !complete {
                        self.ending_after_block = Some(stream);
                    }
                    Written {
                        stream,
                        data: 0,
                        ended: ends && complete,
                    }
                }
                kind::CONTINUATION => {
                    let ended = flags & END_HEADERS != 0
                        && self.ending_after_block.take_if(|s| *s == stream).is_some();
                    Written {
                        stream,
                        data: 0,
                        ended,
                    }
                }
                kind::RST_STREAM => Written {
                    stream,
                    data: 0,
                    ended: true,
                },
                _ => continue,
            };
            if stream != 0 {
                out.push(w);
            }
        }
    }
}

/// The client connection preface (RFC 9113 section 3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// SETTINGS frame type, its ACK flag, and SETTINGS_MAX_CONCURRENT_STREAMS.
const SETTINGS: u8 = 0x4;
const ACK: u8 = 0x1;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;

/// A client connection preface that is not one (RFC 9113 section 3.4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPreface {
    /// The 24 octets are not `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`.
    #[error("invalid HTTP/2 connection preface (octet {0} differs)")]
    Magic(usize),
    /// The first frame is of this type, not SETTINGS.
    #[error("the client's first frame is of type {0:#x}, not SETTINGS")]
    NotSettings(u8),
}

/// Follows the frames a client sends (its preface first): checks the
/// preface, which h2 0.4 checks only in part (it answers a PING sent
/// before the client's SETTINGS), and follows one value: the
/// SETTINGS_MAX_CONCURRENT_STREAMS it allows the server, which limits how
/// many pushed streams may be open at once. h2 does not expose it.
#[derive(Debug, Default)]
pub struct PeerSettings {
    preface: usize,
    /// The first frame after the magic has been seen.
    first_frame: bool,
    header: HeaderBuf,
    /// The current frame's payload still to come; `Some` buffers it (a
    /// SETTINGS frame), `None` skips it.
    rest: usize,
    settings: Option<Vec<u8>>,
}

/// The largest SETTINGS payload buffered (six bytes per setting; larger
/// frames are h2's to refuse, and are skipped here).
const MAX_SETTINGS: usize = 16 * 1024;

impl PeerSettings {
    /// A new connection: the preface comes first.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scans bytes just read; returns the last MAX_CONCURRENT_STREAMS they
    /// set, if any, or what is wrong with the preface.
    pub fn push(&mut self, mut buf: &[u8]) -> Result<Option<u32>, BadPreface> {
        let mut found = None;
        while !buf.is_empty() {
            if self.preface < PREFACE.len() {
                let n = (PREFACE.len() - self.preface).min(buf.len());
                //= https://www.rfc-editor.org/rfc/rfc9113#section-3.4
                //# Clients and servers MUST treat an invalid connection
                //# preface as a connection error (Section 5.4.1) of type
                //# PROTOCOL_ERROR.  A GOAWAY frame (Section 6.8) MAY be
                //# omitted in this case, since an invalid preface indicates
                //# that the peer is not using HTTP/2.
                if let Some(i) = (0..n).find(|i| buf[*i] != PREFACE[self.preface + i]) {
                    return Err(BadPreface::Magic(self.preface + i));
                }
                self.preface += n;
                buf = &buf[n..];
                continue;
            }
            if self.rest > 0 {
                let n = self.rest.min(buf.len());
                if let Some(p) = self.settings.as_mut() {
                    p.extend_from_slice(&buf[..n]);
                }
                self.rest -= n;
                buf = &buf[n..];
                if self.rest == 0 {
                    if let Some(p) = self.settings.take() {
                        found = Self::max_streams(&p).or(found);
                    }
                }
                continue;
            }
            let Some(h) = self.header.fill(&mut buf) else {
                break;
            };
            //= https://www.rfc-editor.org/rfc/rfc9113#section-3.4
            //# This sequence MUST be followed by a SETTINGS frame (Section
            //# 6.5), which MAY be empty.
            if !self.first_frame {
                self.first_frame = true;
                if h.ty != SETTINGS {
                    return Err(BadPreface::NotSettings(h.ty));
                }
            }
            let (len, stream) = (h.len, h.stream);
            let wanted =
                h.ty == SETTINGS && h.flags & ACK == 0 && stream == 0 && len <= MAX_SETTINGS;
            self.settings = wanted.then(|| Vec::with_capacity(len));
            self.rest = len;
            if len == 0 {
                self.settings = None;
            }
        }
        Ok(found)
    }

    /// The last MAX_CONCURRENT_STREAMS of a SETTINGS payload.
    fn max_streams(payload: &[u8]) -> Option<u32> {
        payload
            .chunks_exact(6)
            .rev()
            .find(|c| u16::from_be_bytes([c[0], c[1]]) == MAX_CONCURRENT_STREAMS)
            .map(|c| u32::from_be_bytes([c[2], c[3], c[4], c[5]]))
    }
}

/// PADDED flag of DATA frames.
const PADDED: u8 = 0x8;
/// PUSH_PROMISE frame type.
const PUSH_PROMISE: u8 = 0x5;

/// Payload bytes of one DATA frame, as far as they have arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataPiece<'a> {
    /// The stream.
    pub stream: u32,
    /// Content bytes (padding removed); may be empty at the frame's end.
    pub bytes: &'a [u8],
    /// The frame's last byte arrived and it carried END_STREAM.
    pub end_stream: bool,
    /// PUSH_PROMISE frames seen before these bytes, on any stream: a
    /// reader that must see promises before the data that follows them
    /// waits until it has this many.
    pub promises_before: u64,
}

/// A received frame sequence that cannot be followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TapError {
    /// A padded DATA frame whose padding is not shorter than its payload.
    #[error("DATA frame on stream {stream}: padding {pad} with a payload of {len}")]
    Padding {
        /// The stream.
        stream: u32,
        /// The Pad Length field.
        pad: usize,
        /// The frame's payload length.
        len: usize,
    },
}

/// Where the tap is within a frame.
#[derive(Debug, Default)]
enum TapState {
    /// Between frames (a header may be part read).
    #[default]
    Header,
    /// A padded DATA frame's Pad Length octet comes next.
    PadLength { stream: u32, flags: u8, len: usize },
    /// Inside a DATA frame: content, then padding.
    Data {
        stream: u32,
        end: bool,
        content: usize,
        pad: usize,
    },
    /// Skipping the payload of a frame of another type.
    Skip(usize),
}

/// Follows the frames a client reads (the server's, from its SETTINGS on)
/// and hands on DATA payload bytes as they arrive, frame complete or not.
///
/// h2's client decodes whole frames only, so a 16 KiB DATA frame reaches
/// its reader once all of it has arrived: on a 113 kbit/s link, about a
/// second after its first byte. Browsers' HTTP/2 stacks hand partial
/// frames on (a preload scanner sees the document as TLS records arrive),
/// and the emulated browser must too.
#[derive(Debug, Default)]
pub struct DataTap {
    header: HeaderBuf,
    state: TapState,
    failed: Option<TapError>,
    promises: u64,
}

impl DataTap {
    /// A tap at the start of the server's frames.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scans bytes just read, calling `out` for every piece of DATA
    /// content among them. After an error it reports nothing more (h2,
    /// which reads the same bytes, ends the connection).
    pub fn push(
        &mut self,
        mut buf: &[u8],
        out: &mut impl FnMut(DataPiece<'_>),
    ) -> Result<(), TapError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        while !buf.is_empty() {
            match std::mem::take(&mut self.state) {
                TapState::Header => {
                    let Some(h) = self.header.fill(&mut buf) else {
                        break;
                    };
                    if h.ty == PUSH_PROMISE {
                        self.promises += 1;
                    }
                    self.state = if h.ty != kind::DATA {
                        TapState::Skip(h.len)
                    } else if h.flags & PADDED != 0 {
                        if h.len == 0 {
                            // No room for the Pad Length octet itself.
                            let e = TapError::Padding {
                                stream: h.stream,
                                pad: 0,
                                len: 0,
                            };
                            self.failed = Some(e);
                            return Err(e);
                        }
                        TapState::PadLength {
                            stream: h.stream,
                            flags: h.flags,
                            len: h.len,
                        }
                    } else {
                        self.begin(h.stream, h.flags, h.len, 0, out)
                    };
                }
                TapState::PadLength { stream, flags, len } => {
                    let pad = usize::from(buf[0]);
                    buf = &buf[1..];
                    //= https://www.rfc-editor.org/rfc/rfc9113#section-6.1
                    //# If the length of the padding is the length of the frame
                    //# payload or greater, the recipient MUST treat this as a
                    //# connection error (Section 5.4.1) of type PROTOCOL_ERROR.
                    if pad >= len {
                        let e = TapError::Padding { stream, pad, len };
                        self.failed = Some(e);
                        return Err(e);
                    }
                    self.state = self.begin(stream, flags, len - 1 - pad, pad, out);
                }
                TapState::Data {
                    stream,
                    end,
                    content,
                    pad,
                } => {
                    let n = content.min(buf.len());
                    let (bytes, rest) = buf.split_at(n);
                    buf = rest;
                    let content = content - n;
                    let took = pad.min(buf.len());
                    buf = &buf[took..];
                    let pad = pad - took;
                    let done = content == 0 && pad == 0;
                    if n > 0 || done {
                        out(DataPiece {
                            stream,
                            bytes,
                            end_stream: done && end,
                            promises_before: self.promises,
                        });
                    }
                    if !done {
                        self.state = TapState::Data {
                            stream,
                            end,
                            content,
                            pad,
                        };
                    }
                }
                TapState::Skip(n) => {
                    let k = n.min(buf.len());
                    buf = &buf[k..];
                    if n > k {
                        self.state = TapState::Skip(n - k);
                    }
                }
            }
        }
        Ok(())
    }

    /// The state after a DATA frame's header (and Pad Length); an empty
    /// frame is reported at once.
    fn begin(
        &mut self,
        stream: u32,
        flags: u8,
        content: usize,
        pad: usize,
        out: &mut impl FnMut(DataPiece<'_>),
    ) -> TapState {
        let end = flags & END_STREAM != 0;
        if content == 0 && pad == 0 {
            out(DataPiece {
                stream,
                bytes: &[],
                end_stream: end,
                promises_before: self.promises,
            });
            return TapState::Header;
        }
        TapState::Data {
            stream,
            end,
            content,
            pad,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, ty, flags];
        out.extend_from_slice(&stream.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn peer_settings_after_the_preface() {
        let setting = |id: u16, v: u32| {
            let mut p = id.to_be_bytes().to_vec();
            p.extend_from_slice(&v.to_be_bytes());
            p
        };
        let mut wire = PREFACE.to_vec();
        // SETTINGS: ENABLE_PUSH 1, MAX_CONCURRENT_STREAMS 0.
        wire.extend(client_frame(
            SETTINGS,
            0,
            0,
            &[setting(2, 1), setting(3, 0)].concat(),
        ));
        // HEADERS whose payload looks like a SETTINGS entry: not one.
        wire.extend(client_frame(0x1, 0x5, 1, &setting(3, 7)));
        // A SETTINGS ACK, empty.
        wire.extend(client_frame(SETTINGS, ACK, 0, &[]));
        // Byte by byte and all at once, the same answer.
        let mut s = PeerSettings::new();
        let found: Vec<u32> = wire
            .iter()
            .filter_map(|b| s.push(&[*b]).expect("a valid preface"))
            .collect();
        assert_eq!(found, vec![0]);
        assert_eq!(PeerSettings::new().push(&wire), Ok(Some(0)));
        // A later SETTINGS raises it; the last value in a frame wins.
        let more = client_frame(SETTINGS, 0, 0, &[setting(3, 5), setting(3, 100)].concat());
        assert_eq!(s.push(&more), Ok(Some(100)));
        // A frame without the setting changes nothing.
        assert_eq!(
            s.push(&client_frame(SETTINGS, 0, 0, &setting(4, 65535))),
            Ok(None)
        );
        // SETTINGS on a stream other than 0 is h2's to refuse, not read here.
        assert_eq!(
            s.push(&client_frame(SETTINGS, 0, 1, &setting(3, 1))),
            Ok(None)
        );
    }

    #[test]
    fn bad_prefaces() {
        let mut bad = PREFACE.to_vec();
        bad[18] = b'X';
        assert_eq!(PeerSettings::new().push(&bad), Err(BadPreface::Magic(18)));
        // An HTTP/1.1 request line fails at the first octet that differs.
        assert_eq!(
            PeerSettings::new().push(b"GET / HTTP/1.1\r\n"),
            Err(BadPreface::Magic(0))
        );
        // The magic, then a PING instead of SETTINGS, byte by byte too.
        let mut ping = PREFACE.to_vec();
        ping.extend(client_frame(0x6, 0, 0, b"pushlab!"));
        assert_eq!(
            PeerSettings::new().push(&ping),
            Err(BadPreface::NotSettings(0x6))
        );
        let mut s = PeerSettings::new();
        let first_err = ping.iter().find_map(|b| s.push(&[*b]).err());
        assert_eq!(first_err, Some(BadPreface::NotSettings(0x6)));
        // A SETTINGS ACK first is a SETTINGS frame: h2's to judge.
        let mut ack = PREFACE.to_vec();
        ack.extend(client_frame(SETTINGS, ACK, 0, &[]));
        assert_eq!(PeerSettings::new().push(&ack), Ok(None));
        // Only the first frame must be SETTINGS.
        let mut later = PREFACE.to_vec();
        later.extend(client_frame(SETTINGS, 0, 0, &[]));
        later.extend(client_frame(0x6, 0, 0, b"pushlab!"));
        assert_eq!(PeerSettings::new().push(&later), Ok(None));
    }

    fn frame(ty: u8, flags: u8, stream: u32, payload: usize) -> Vec<u8> {
        let mut v = vec![
            (payload >> 16) as u8,
            (payload >> 8) as u8,
            payload as u8,
            ty,
            flags,
        ];
        v.extend_from_slice(&stream.to_be_bytes());
        v.extend(std::iter::repeat_n(0xaa, payload));
        v
    }

    fn scan_in_pieces(bytes: &[u8], piece: usize) -> Vec<Written> {
        let mut s = FrameScanner::new();
        let mut out = Vec::new();
        for c in bytes.chunks(piece) {
            s.push(c, &mut out);
        }
        assert_eq!(s.total, bytes.len() as u64);
        out
    }

    /// SETTINGS, PUSH_PROMISE, HEADERS, DATA, DATA+END_STREAM, a HEADERS
    /// with END_STREAM split into CONTINUATION, and RST_STREAM: the same
    /// result however the bytes are split.
    #[test]
    fn finds_stream_ends_across_any_split() {
        let mut b = frame(0x4, 0, 0, 12);
        b.extend(frame(0x5, END_HEADERS, 1, 30));
        b.extend(frame(kind::HEADERS, END_HEADERS, 1, 40));
        b.extend(frame(kind::DATA, 0, 1, 16384));
        b.extend(frame(kind::HEADERS, END_HEADERS, 2, 20));
        b.extend(frame(kind::DATA, END_STREAM, 1, 100));
        b.extend(frame(kind::HEADERS, END_STREAM, 3, 10));
        b.extend(frame(kind::CONTINUATION, 0, 3, 10));
        b.extend(frame(kind::CONTINUATION, END_HEADERS, 3, 10));
        b.extend(frame(kind::RST_STREAM, 0, 2, 4));
        let want = vec![
            Written {
                stream: 1,
                data: 0,
                ended: false,
            },
            Written {
                stream: 1,
                data: 16384,
                ended: false,
            },
            Written {
                stream: 2,
                data: 0,
                ended: false,
            },
            Written {
                stream: 1,
                data: 100,
                ended: true,
            },
            Written {
                stream: 3,
                data: 0,
                ended: false,
            },
            Written {
                stream: 3,
                data: 0,
                ended: false,
            },
            Written {
                stream: 3,
                data: 0,
                ended: true,
            },
            Written {
                stream: 2,
                data: 0,
                ended: true,
            },
        ];
        for piece in [1, 2, 7, 9, 10, 1000, b.len()] {
            assert_eq!(scan_in_pieces(&b, piece), want, "pieces of {piece}");
        }
    }

    /// An empty END_STREAM DATA frame ends the stream; frames on stream 0
    /// (SETTINGS, PING, GOAWAY, WINDOW_UPDATE) are not reported.
    #[test]
    fn empty_end_and_connection_frames() {
        let mut b = frame(kind::DATA, END_STREAM, 5, 0);
        b.extend(frame(0x6, 0, 0, 8));
        b.extend(frame(0x7, 0, 0, 8));
        assert_eq!(
            scan_in_pieces(&b, 3),
            vec![Written {
                stream: 5,
                data: 0,
                ended: true
            }]
        );
    }

    fn data_frame(flags: u8, stream: u32, pad: Option<u8>, content: &[u8]) -> Vec<u8> {
        let mut payload = Vec::new();
        if let Some(p) = pad {
            payload.push(p);
        }
        payload.extend_from_slice(content);
        if let Some(p) = pad {
            payload.extend(std::iter::repeat_n(0u8, usize::from(p)));
        }
        client_frame(
            kind::DATA,
            flags | if pad.is_some() { PADDED } else { 0 },
            stream,
            &payload,
        )
    }

    /// (stream, content, ended) per stream, merged from the pieces.
    fn tap_in_pieces(bytes: &[u8], piece: usize) -> (Vec<(u32, Vec<u8>, bool)>, usize) {
        let mut tap = DataTap::new();
        let mut got: Vec<(u32, Vec<u8>, bool)> = Vec::new();
        let mut calls = 0;
        for c in bytes.chunks(piece) {
            tap.push(c, &mut |p: DataPiece<'_>| {
                calls += 1;
                match got.iter_mut().find(|g| g.0 == p.stream) {
                    Some(g) => {
                        assert!(!g.2, "bytes after END_STREAM");
                        g.1.extend_from_slice(p.bytes);
                        g.2 = p.end_stream;
                    }
                    None => got.push((p.stream, p.bytes.to_vec(), p.end_stream)),
                }
            })
            .expect("valid frames");
        }
        (got, calls)
    }

    /// SETTINGS, HEADERS, DATA (plain, padded, empty with END_STREAM),
    /// PUSH_PROMISE and a PING between them: the same content per stream
    /// however the bytes are split, and content reported as it arrives.
    #[test]
    fn tap_hands_on_data_across_any_split() {
        let doc: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let mut b = client_frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]);
        b.extend(client_frame(kind::HEADERS, END_HEADERS, 1, b"hpack"));
        b.extend(data_frame(0, 1, None, &doc[..16384]));
        b.extend(client_frame(0x5, END_HEADERS, 1, b"\0\0\0\x02promise"));
        b.extend(client_frame(0x6, 0, 0, b"pushlab!"));
        b.extend(data_frame(0, 3, Some(5), b"script"));
        b.extend(data_frame(END_STREAM, 1, Some(0), &doc[16384..]));
        b.extend(data_frame(0, 2, None, b"pushed"));
        b.extend(data_frame(END_STREAM, 2, None, b""));
        b.extend(data_frame(END_STREAM, 3, Some(3), b""));
        let want = vec![
            (1, doc.clone(), true),
            (3, b"script".to_vec(), true),
            (2, b"pushed".to_vec(), true),
        ];
        for piece in [1, 2, 9, 10, 1400, 16384, b.len()] {
            assert_eq!(tap_in_pieces(&b, piece).0, want, "pieces of {piece}");
        }
        // Read 1,400 bytes at a time (one TLS record each), the 16 KiB
        // frame comes out in pieces, not once whole.
        let mut tap = DataTap::new();
        let mut seen = 0;
        let mut pieces_before_end = 0;
        for c in b.chunks(1400) {
            tap.push(c, &mut |p: DataPiece<'_>| {
                if p.stream == 1 && seen < 16384 {
                    seen += p.bytes.len();
                    pieces_before_end += 1;
                }
            })
            .expect("valid frames");
        }
        assert!(pieces_before_end >= 11, "{pieces_before_end} pieces");
        // Data after the PUSH_PROMISE says one promise came before it.
        let mut tap = DataTap::new();
        let mut before = Vec::new();
        tap.push(&b, &mut |p: DataPiece<'_>| {
            before.push((p.stream, p.promises_before))
        })
        .expect("valid frames");
        assert_eq!(before, vec![(1, 0), (3, 1), (1, 1), (2, 1), (2, 1), (3, 1)]);
    }

    /// Padding as long as the payload is a protocol error; the tap stops
    /// there and stays stopped.
    #[test]
    fn tap_refuses_bad_padding() {
        let bad = client_frame(kind::DATA, PADDED, 7, &[4, 0, 0, 0]);
        let mut tap = DataTap::new();
        let e = tap.push(&bad, &mut |_: DataPiece<'_>| panic!("no data"));
        assert_eq!(
            e,
            Err(TapError::Padding {
                stream: 7,
                pad: 4,
                len: 4
            })
        );
        assert!(tap
            .push(
                &data_frame(0, 1, None, b"x"),
                &mut |_: DataPiece<'_>| panic!("stopped")
            )
            .is_err());
        // A padded frame with no payload has no room for its Pad Length:
        // refused at its header, not read from the next frame's bytes.
        let mut empty = client_frame(kind::DATA, PADDED, 9, &[]);
        empty.extend(data_frame(0, 1, None, b"next"));
        let mut tap = DataTap::new();
        let e = tap.push(&empty, &mut |_: DataPiece<'_>| panic!("no data"));
        assert_eq!(
            e,
            Err(TapError::Padding {
                stream: 9,
                pad: 0,
                len: 0
            })
        );
    }
}
