//! HTTP/3 frames (RFC 9114 section 7, RFC 9218 section 7.2): encoding, a
//! streaming decoder that follows frame boundaries across arbitrary read
//! chunks, and parsing of the control frames pushlab acts on.
//!
//! h3 0.0.8 parses the frames it understands itself; pushlab needs its own
//! parser for what h3 drops (MAX_PUSH_ID, CANCEL_PUSH, PRIORITY_UPDATE) and
//! for its own HTTP/3 client, which receives PUSH_PROMISE and push streams.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::varint;

/// Frame type codes.
pub mod ty {
    /// DATA
    pub const DATA: u64 = 0x00;
    /// HEADERS
    pub const HEADERS: u64 = 0x01;
    /// CANCEL_PUSH
    pub const CANCEL_PUSH: u64 = 0x03;
    /// SETTINGS
    pub const SETTINGS: u64 = 0x04;
    /// PUSH_PROMISE
    pub const PUSH_PROMISE: u64 = 0x05;
    /// GOAWAY
    pub const GOAWAY: u64 = 0x07;
    /// MAX_PUSH_ID
    pub const MAX_PUSH_ID: u64 = 0x0d;
    /// PRIORITY_UPDATE for a request stream (RFC 9218).
    pub const PRIORITY_UPDATE_REQUEST: u64 = 0xF0700;
    /// PRIORITY_UPDATE for a push (RFC 9218).
    pub const PRIORITY_UPDATE_PUSH: u64 = 0xF0701;

    /// HTTP/2 frame types that have no HTTP/3 meaning.
    //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.8
    //# Frame types that were used in HTTP/2 where there is no corresponding
    //# HTTP/3 frame have also been reserved (Section 11.2.1).  These frame
    //# types MUST NOT be sent, and their receipt MUST be treated as a
    //# connection error of type H3_FRAME_UNEXPECTED.
    pub const fn is_reserved_h2(t: u64) -> bool {
        matches!(t, 0x02 | 0x06 | 0x08 | 0x09)
    }

    /// Grease frame types `0x1f * N + 0x21`.
    pub const fn is_grease(t: u64) -> bool {
        t >= 0x21 && (t - 0x21).is_multiple_of(0x1f)
    }
}

/// Unidirectional stream type codes.
pub mod stream_type {
    /// Control stream.
    pub const CONTROL: u64 = 0x00;
    /// Push stream.
    pub const PUSH: u64 = 0x01;
    /// QPACK encoder stream.
    pub const QPACK_ENCODER: u64 = 0x02;
    /// QPACK decoder stream.
    pub const QPACK_DECODER: u64 = 0x03;
}

/// SETTINGS identifiers.
pub mod setting {
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY (RFC 9204).
    pub const QPACK_MAX_TABLE_CAPACITY: u64 = 0x01;
    /// SETTINGS_MAX_FIELD_SECTION_SIZE.
    pub const MAX_FIELD_SECTION_SIZE: u64 = 0x06;
    /// SETTINGS_QPACK_BLOCKED_STREAMS (RFC 9204).
    pub const QPACK_BLOCKED_STREAMS: u64 = 0x07;
    /// HTTP/2 settings that are errors in HTTP/3.
    //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.4.1
    //# Setting identifiers that were defined in [HTTP/2] where there is no
    //# corresponding HTTP/3 setting have also been reserved
    //# (Section 11.2.2).  These reserved settings MUST NOT be sent, and their
    //# receipt MUST be treated as a connection error of type
    //# H3_SETTINGS_ERROR.
    pub const fn is_reserved_h2(id: u64) -> bool {
        matches!(id, 0x00 | 0x02 | 0x03 | 0x04 | 0x05)
    }
}

/// HTTP/3 and QPACK error codes (RFC 9114 section 8.1, RFC 9204 section 6).
pub mod code {
    /// No error.
    pub const H3_NO_ERROR: u64 = 0x100;
    /// Peer violated protocol requirements in a way without a more specific code.
    pub const H3_GENERAL_PROTOCOL_ERROR: u64 = 0x101;
    /// An internal error.
    pub const H3_INTERNAL_ERROR: u64 = 0x102;
    /// A stream the peer was not allowed to create.
    pub const H3_STREAM_CREATION_ERROR: u64 = 0x103;
    /// A required stream was closed.
    pub const H3_CLOSED_CRITICAL_STREAM: u64 = 0x104;
    /// A frame not permitted in the current state or on the current stream.
    pub const H3_FRAME_UNEXPECTED: u64 = 0x105;
    /// A frame fails layout requirements or has an invalid size.
    pub const H3_FRAME_ERROR: u64 = 0x106;
    /// The peer is generating excessive load.
    pub const H3_EXCESSIVE_LOAD: u64 = 0x107;
    /// A stream or push ID was used incorrectly.
    pub const H3_ID_ERROR: u64 = 0x108;
    /// An error in the payload of a SETTINGS frame.
    pub const H3_SETTINGS_ERROR: u64 = 0x109;
    /// No SETTINGS frame at the start of the control stream.
    pub const H3_MISSING_SETTINGS: u64 = 0x10a;
    /// A request was rejected without application processing.
    pub const H3_REQUEST_REJECTED: u64 = 0x10b;
    /// The request or its response (including pushed response) is cancelled.
    pub const H3_REQUEST_CANCELLED: u64 = 0x10c;
    /// The client's stream terminated without a fully formed request.
    pub const H3_REQUEST_INCOMPLETE: u64 = 0x10d;
    /// A malformed message.
    pub const H3_MESSAGE_ERROR: u64 = 0x10e;
    /// QPACK could not interpret a field section.
    pub const QPACK_DECOMPRESSION_FAILED: u64 = 0x200;
    /// An encoder stream instruction the decoder cannot accept (RFC 9204).
    pub const QPACK_ENCODER_STREAM_ERROR: u64 = 0x201;
    /// A decoder stream instruction the encoder cannot accept (RFC 9204).
    pub const QPACK_DECODER_STREAM_ERROR: u64 = 0x202;

    /// The name of a code, for logs.
    pub fn name(code: u64) -> &'static str {
        match code {
            H3_NO_ERROR => "H3_NO_ERROR",
            H3_GENERAL_PROTOCOL_ERROR => "H3_GENERAL_PROTOCOL_ERROR",
            H3_INTERNAL_ERROR => "H3_INTERNAL_ERROR",
            H3_STREAM_CREATION_ERROR => "H3_STREAM_CREATION_ERROR",
            H3_CLOSED_CRITICAL_STREAM => "H3_CLOSED_CRITICAL_STREAM",
            H3_FRAME_UNEXPECTED => "H3_FRAME_UNEXPECTED",
            H3_FRAME_ERROR => "H3_FRAME_ERROR",
            H3_EXCESSIVE_LOAD => "H3_EXCESSIVE_LOAD",
            H3_ID_ERROR => "H3_ID_ERROR",
            H3_SETTINGS_ERROR => "H3_SETTINGS_ERROR",
            H3_MISSING_SETTINGS => "H3_MISSING_SETTINGS",
            H3_REQUEST_REJECTED => "H3_REQUEST_REJECTED",
            H3_REQUEST_CANCELLED => "H3_REQUEST_CANCELLED",
            H3_REQUEST_INCOMPLETE => "H3_REQUEST_INCOMPLETE",
            H3_MESSAGE_ERROR => "H3_MESSAGE_ERROR",
            QPACK_DECOMPRESSION_FAILED => "QPACK_DECOMPRESSION_FAILED",
            QPACK_ENCODER_STREAM_ERROR => "QPACK_ENCODER_STREAM_ERROR",
            QPACK_DECODER_STREAM_ERROR => "QPACK_DECODER_STREAM_ERROR",
            _ => "unknown",
        }
    }
}

/// A malformed frame; carries the HTTP/3 error code to close with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A frame's payload does not match its type's layout.
    #[error("malformed {frame} frame: {why}")]
    Malformed {
        /// The frame type's name.
        frame: &'static str,
        /// What was wrong.
        why: &'static str,
    },
    /// A frame that must be buffered is larger than allowed.
    #[error("frame of type {ty:#x} has {len} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Frame type.
        ty: u64,
        /// Declared length.
        len: u64,
        /// Limit in force.
        limit: usize,
    },
    /// A reserved HTTP/2 frame type.
    #[error("reserved HTTP/2 frame type {0:#x}")]
    ReservedType(u64),
    /// A SETTINGS frame that is invalid.
    #[error("invalid SETTINGS: {0}")]
    Settings(&'static str),
    /// The stream ended in the middle of a frame.
    #[error("stream ended inside a frame")]
    Truncated,
}

impl FrameError {
    /// The connection error code RFC 9114 prescribes.
    pub fn code(&self) -> u64 {
        match self {
            //= https://www.rfc-editor.org/rfc/rfc9114#section-7.1
            //# Each frame's payload MUST contain exactly the fields identified in
            //# its description.  A frame payload that contains additional bytes
            //# after the identified fields or a frame payload that terminates
            //# before the end of the identified fields MUST be treated as a
            //# connection error of type H3_FRAME_ERROR.
            FrameError::Malformed { .. } | FrameError::Truncated => code::H3_FRAME_ERROR,
            FrameError::TooLarge { .. } => code::H3_EXCESSIVE_LOAD,
            FrameError::ReservedType(_) => code::H3_FRAME_UNEXPECTED,
            FrameError::Settings(_) => code::H3_SETTINGS_ERROR,
        }
    }
}

/// A frame whose payload has been parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// HEADERS: a QPACK-encoded field section.
    Headers(Bytes),
    /// CANCEL_PUSH.
    CancelPush(u64),
    /// SETTINGS as (identifier, value) pairs.
    Settings(Vec<(u64, u64)>),
    /// PUSH_PROMISE: push ID and QPACK-encoded request field section.
    PushPromise {
        /// The push ID.
        push_id: u64,
        /// The encoded field section.
        block: Bytes,
    },
    /// GOAWAY with a stream ID (from the server) or push ID (from the client).
    Goaway(u64),
    /// MAX_PUSH_ID.
    MaxPushId(u64),
    /// PRIORITY_UPDATE (RFC 9218 section 7.2).
    PriorityUpdate {
        /// True for type 0xF0701 (a push ID), false for 0xF0700 (a request stream ID).
        push: bool,
        /// The prioritized element ID.
        id: u64,
        /// The Priority Field Value (ASCII).
        value: Bytes,
    },
    /// A frame type pushlab does not interpret (extensions, grease).
    Unknown {
        /// The frame type.
        ty: u64,
        /// The payload.
        payload: Bytes,
    },
}

fn take_varint(p: &mut Bytes, frame: &'static str) -> Result<u64, FrameError> {
    let (v, n) = varint::decode(p).map_err(|_| FrameError::Malformed {
        frame,
        why: "truncated varint",
    })?;
    p.advance(n);
    Ok(v)
}

fn single_varint(mut p: Bytes, frame: &'static str) -> Result<u64, FrameError> {
    let v = take_varint(&mut p, frame)?;
    if !p.is_empty() {
        return Err(FrameError::Malformed {
            frame,
            why: "trailing bytes after the identified fields",
        });
    }
    Ok(v)
}

/// Parses a complete frame payload of type `ty` (never DATA).
pub fn parse(ty: u64, payload: Bytes) -> Result<Frame, FrameError> {
    if ty::is_reserved_h2(ty) {
        return Err(FrameError::ReservedType(ty));
    }
    Ok(match ty {
        ty::HEADERS => Frame::Headers(payload),
        ty::CANCEL_PUSH => Frame::CancelPush(single_varint(payload, "CANCEL_PUSH")?),
        ty::GOAWAY => Frame::Goaway(single_varint(payload, "GOAWAY")?),
        ty::MAX_PUSH_ID => Frame::MaxPushId(single_varint(payload, "MAX_PUSH_ID")?),
        ty::SETTINGS => Frame::Settings(parse_settings(payload)?),
        ty::PUSH_PROMISE => {
            let mut p = payload;
            let push_id = take_varint(&mut p, "PUSH_PROMISE")?;
            Frame::PushPromise { push_id, block: p }
        }
        ty::PRIORITY_UPDATE_REQUEST | ty::PRIORITY_UPDATE_PUSH => {
            let mut p = payload;
            let id = take_varint(&mut p, "PRIORITY_UPDATE")?;
            Frame::PriorityUpdate {
                push: ty == ty::PRIORITY_UPDATE_PUSH,
                id,
                value: p,
            }
        }
        _ => Frame::Unknown { ty, payload },
    })
}

fn parse_settings(mut p: Bytes) -> Result<Vec<(u64, u64)>, FrameError> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    while !p.is_empty() {
        let id = take_varint(&mut p, "SETTINGS")?;
        let value = take_varint(&mut p, "SETTINGS")?;
        if setting::is_reserved_h2(id) {
            return Err(FrameError::Settings("reserved HTTP/2 setting identifier"));
        }
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.4
        //# The same setting identifier MUST NOT occur more than once in the
        //# SETTINGS frame.  A receiver MAY treat the presence of duplicate
        //# setting identifiers as a connection error of type H3_SETTINGS_ERROR.
        if out.iter().any(|(i, _)| *i == id) {
            return Err(FrameError::Settings("duplicate setting identifier"));
        }
        out.push((id, value));
    }
    Ok(out)
}

/// Appends a frame header and payload.
pub fn encode_raw(ty: u64, payload: &[u8], out: &mut BytesMut) {
    varint::put(ty, out);
    varint::put(payload.len() as u64, out);
    out.put_slice(payload);
}

/// Encodes a frame.
pub fn encode(frame: &Frame) -> Bytes {
    let mut out = BytesMut::new();
    let mut p = BytesMut::new();
    let t = match frame {
        Frame::Headers(b) => {
            p.put_slice(b);
            ty::HEADERS
        }
        Frame::CancelPush(id) => {
            varint::put(*id, &mut p);
            ty::CANCEL_PUSH
        }
        Frame::Settings(s) => {
            for (id, v) in s {
                varint::put(*id, &mut p);
                varint::put(*v, &mut p);
            }
            ty::SETTINGS
        }
        Frame::PushPromise { push_id, block } => {
            varint::put(*push_id, &mut p);
            p.put_slice(block);
            ty::PUSH_PROMISE
        }
        Frame::Goaway(id) => {
            varint::put(*id, &mut p);
            ty::GOAWAY
        }
        Frame::MaxPushId(id) => {
            varint::put(*id, &mut p);
            ty::MAX_PUSH_ID
        }
        Frame::PriorityUpdate { push, id, value } => {
            varint::put(*id, &mut p);
            p.put_slice(value);
            if *push {
                ty::PRIORITY_UPDATE_PUSH
            } else {
                ty::PRIORITY_UPDATE_REQUEST
            }
        }
        Frame::Unknown { ty, payload } => {
            p.put_slice(payload);
            *ty
        }
    };
    encode_raw(t, &p, &mut out);
    out.freeze()
}

/// Encodes a DATA frame header for `len` payload bytes.
pub fn data_header(len: u64) -> Bytes {
    let mut out = BytesMut::with_capacity(16);
    varint::put(ty::DATA, &mut out);
    varint::put(len, &mut out);
    out.freeze()
}

/// What [`FrameDecoder`] found in the bytes it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete non-DATA frame, parsed.
    Frame(Frame),
    /// The start of a DATA frame with its declared payload length.
    DataStart(u64),
    /// A piece of a DATA frame's payload.
    Data(Bytes),
    /// A frame whose payload is being skipped ([`FrameDecoder::headers_only`]).
    Skipped {
        /// The frame type.
        ty: u64,
        /// Its declared payload length.
        len: u64,
    },
}

#[derive(Debug)]
enum State {
    /// Reading a frame header (type and length varints).
    Header,
    /// Streaming a DATA payload; `remaining` bytes to go.
    Data { remaining: u64 },
    /// Buffering a non-DATA payload.
    Payload { ty: u64, remaining: usize },
    /// Skipping a payload.
    Skip { remaining: u64 },
}

/// Follows frame boundaries on one stream across read chunks of any size.
///
/// DATA payloads are passed through piecewise and never buffered; other
/// frames are buffered up to `max_frame` bytes and then parsed.
#[derive(Debug)]
pub struct FrameDecoder {
    state: State,
    /// Bytes of a frame header read so far (at most two 8-byte varints).
    header: [u8; 16],
    header_len: usize,
    payload: BytesMut,
    max_frame: usize,
    skip_all: bool,
    /// With `skip_all`: HEADERS frames up to `max_frame` are still parsed.
    keep_headers: bool,
    /// Bytes consumed so far (for diagnostics).
    pub consumed: u64,
}

impl FrameDecoder {
    /// A decoder that refuses non-DATA frames larger than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        FrameDecoder {
            state: State::Header,
            header: [0; 16],
            header_len: 0,
            payload: BytesMut::new(),
            max_frame,
            skip_all: false,
            keep_headers: false,
            consumed: 0,
        }
    }

    /// A decoder for a request stream's checks: HEADERS frames of at most
    /// `max_headers` bytes are parsed ([`Event::Frame`]); every other frame
    /// (larger HEADERS included: their size is h3's to refuse) is reported
    /// as [`Event::Skipped`], its payload not kept.
    pub fn request(max_headers: usize) -> Self {
        FrameDecoder {
            keep_headers: true,
            ..FrameDecoder::headers_only_with(max_headers)
        }
    }

    fn headers_only_with(max_frame: usize) -> Self {
        FrameDecoder {
            skip_all: true,
            ..FrameDecoder::new(max_frame)
        }
    }

    /// A decoder that only follows frame boundaries: every frame is reported
    /// as [`Event::Skipped`] and no payload is buffered or passed on.
    pub fn headers_only() -> Self {
        FrameDecoder {
            skip_all: true,
            ..FrameDecoder::new(0)
        }
    }

    /// True when the decoder is between frames (a stream may end here).
    pub fn at_boundary(&self) -> bool {
        matches!(self.state, State::Header) && self.header_len == 0
    }

    /// Feeds bytes; appends what they complete to `out`.
    pub fn push(&mut self, mut input: Bytes, out: &mut Vec<Event>) -> Result<(), FrameError> {
        self.consumed += input.len() as u64;
        while !input.is_empty() {
            match &mut self.state {
                State::Header => {
                    // Accumulate at most two varints (16 bytes).
                    let need = 16 - self.header_len;
                    let take = need.min(input.len());
                    self.header[self.header_len..self.header_len + take]
                        .copy_from_slice(&input[..take]);
                    self.header_len += take;
                    let header = &self.header[..self.header_len];
                    let (t, n1) = match varint::decode(header) {
                        Ok(v) => v,
                        Err(_) => {
                            input.advance(take);
                            continue;
                        }
                    };
                    let (len, n2) = match varint::decode(&header[n1..]) {
                        Ok(v) => v,
                        Err(_) => {
                            input.advance(take);
                            continue;
                        }
                    };
                    // Give back what we over-read.
                    let used = n1 + n2;
                    let over = self.header_len - used;
                    input.advance(take - over);
                    self.header_len = 0;
                    if ty::is_reserved_h2(t) {
                        return Err(FrameError::ReservedType(t));
                    }
                    let kept =
                        self.keep_headers && t == ty::HEADERS && len <= self.max_frame as u64;
                    if self.skip_all && !kept {
                        out.push(Event::Skipped { ty: t, len });
                        self.state = State::Skip { remaining: len };
                    } else if t == ty::DATA {
                        out.push(Event::DataStart(len));
                        self.state = State::Data { remaining: len };
                    } else {
                        if len > self.max_frame as u64 {
                            return Err(FrameError::TooLarge {
                                ty: t,
                                len,
                                limit: self.max_frame,
                            });
                        }
                        self.payload.clear();
                        self.state = State::Payload {
                            ty: t,
                            remaining: len as usize,
                        };
                    }
                }
                State::Data { remaining } => {
                    let take = (*remaining).min(input.len() as u64) as usize;
                    if take > 0 {
                        out.push(Event::Data(input.split_to(take)));
                    }
                    *remaining -= take as u64;
                }
                State::Payload { remaining, .. } => {
                    let take = (*remaining).min(input.len());
                    self.payload.extend_from_slice(&input.split_to(take));
                    *remaining -= take;
                }
                State::Skip { remaining } => {
                    let take = (*remaining).min(input.len() as u64) as usize;
                    input.advance(take);
                    *remaining -= take as u64;
                }
            }
            // Complete states.
            match self.state {
                State::Data { remaining: 0 } | State::Skip { remaining: 0 } => {
                    self.state = State::Header
                }
                State::Payload { ty, remaining: 0 } => {
                    let payload = self.payload.split().freeze();
                    self.state = State::Header;
                    out.push(Event::Frame(parse(ty, payload)?));
                }
                _ => {}
            }
        }
        // Zero-length payloads complete without further input.
        if let State::Payload { ty, remaining: 0 } = self.state {
            let payload = self.payload.split().freeze();
            self.state = State::Header;
            out.push(Event::Frame(parse(ty, payload)?));
        }
        if let State::Data { remaining: 0 } | State::Skip { remaining: 0 } = self.state {
            self.state = State::Header;
        }
        Ok(())
    }

    /// Call when the stream ends; an error if it ended inside a frame.
    //= https://www.rfc-editor.org/rfc/rfc9114#section-7.1
    //# When a stream terminates cleanly, if the last frame on the stream was
    //# truncated, this MUST be treated as a connection error of type
    //# H3_FRAME_ERROR.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.at_boundary() {
            Ok(())
        } else {
            Err(FrameError::Truncated)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_frames() -> Vec<Frame> {
        vec![
            Frame::Headers(Bytes::from_static(b"\x00\x00\xd1")),
            Frame::CancelPush(7),
            Frame::Settings(vec![(setting::MAX_FIELD_SECTION_SIZE, 16384), (0x21, 5)]),
            Frame::PushPromise {
                push_id: 3,
                block: Bytes::from_static(b"\x00\x00\xd1"),
            },
            Frame::Goaway(400),
            Frame::MaxPushId(1_000_000),
            Frame::PriorityUpdate {
                push: false,
                id: 8,
                value: Bytes::from_static(b"u=1, i"),
            },
            Frame::PriorityUpdate {
                push: true,
                id: 2,
                value: Bytes::from_static(b"u=6"),
            },
            Frame::Unknown {
                ty: 0x21,
                payload: Bytes::from_static(b"grease"),
            },
        ]
    }

    /// Every frame survives encode -> decode, fed one byte at a time.
    #[test]
    fn round_trip_byte_by_byte() {
        let frames = all_frames();
        let mut wire = BytesMut::new();
        for f in &frames {
            wire.extend_from_slice(&encode(f));
        }
        wire.extend_from_slice(&data_header(5));
        wire.extend_from_slice(b"hello");
        let wire = wire.freeze();
        let mut d = FrameDecoder::new(1 << 16);
        let mut out = Vec::new();
        for i in 0..wire.len() {
            d.push(wire.slice(i..i + 1), &mut out).unwrap();
        }
        d.finish().unwrap();
        let mut expected: Vec<Event> = frames.into_iter().map(Event::Frame).collect();
        expected.push(Event::DataStart(5));
        let mut got_data = Vec::new();
        let mut got = Vec::new();
        for e in out {
            match e {
                Event::Data(b) => got_data.extend_from_slice(&b),
                other => got.push(other),
            }
        }
        assert_eq!(got, expected);
        assert_eq!(got_data, b"hello");
    }

    /// One big chunk decodes the same.
    #[test]
    fn round_trip_one_chunk() {
        let mut wire = BytesMut::new();
        for f in all_frames() {
            wire.extend_from_slice(&encode(&f));
        }
        let mut d = FrameDecoder::new(1 << 16);
        let mut out = Vec::new();
        d.push(wire.freeze(), &mut out).unwrap();
        assert_eq!(out.len(), all_frames().len());
    }

    #[test]
    fn empty_payloads_complete() {
        let mut d = FrameDecoder::new(100);
        let mut out = Vec::new();
        d.push(Bytes::from_static(&[0x04, 0x00, 0x00, 0x00]), &mut out)
            .unwrap();
        assert_eq!(
            out,
            vec![Event::Frame(Frame::Settings(vec![])), Event::DataStart(0)]
        );
        assert!(d.at_boundary());
    }

    #[test]
    fn errors_carry_rfc_codes() {
        let mut d = FrameDecoder::new(100);
        // A reserved HTTP/2 frame type (PRIORITY, 0x02).
        let e = d
            .push(Bytes::from_static(&[0x02, 0x00]), &mut Vec::new())
            .unwrap_err();
        assert_eq!(e.code(), code::H3_FRAME_UNEXPECTED);
        // MAX_PUSH_ID with trailing bytes.
        let e = parse(ty::MAX_PUSH_ID, Bytes::from_static(&[0x01, 0x02])).unwrap_err();
        assert_eq!(e.code(), code::H3_FRAME_ERROR);
        // CANCEL_PUSH with an empty payload.
        let e = parse(ty::CANCEL_PUSH, Bytes::new()).unwrap_err();
        assert_eq!(e.code(), code::H3_FRAME_ERROR);
        // Duplicate and reserved settings.
        let e = parse(ty::SETTINGS, Bytes::from_static(&[0x06, 0x01, 0x06, 0x02])).unwrap_err();
        assert_eq!(e.code(), code::H3_SETTINGS_ERROR);
        let e = parse(ty::SETTINGS, Bytes::from_static(&[0x02, 0x01])).unwrap_err();
        assert_eq!(e.code(), code::H3_SETTINGS_ERROR);
        // An oversized control frame is refused before it is buffered.
        let mut d = FrameDecoder::new(10);
        let mut big = BytesMut::new();
        varint::put(ty::PRIORITY_UPDATE_REQUEST, &mut big);
        varint::put(1 << 40, &mut big);
        let e = d.push(big.freeze(), &mut Vec::new()).unwrap_err();
        assert_eq!(e.code(), code::H3_EXCESSIVE_LOAD);
        // A truncated frame at the end of a stream.
        let mut d = FrameDecoder::new(100);
        d.push(Bytes::from_static(&[0x01, 0x05, 0x00]), &mut Vec::new())
            .unwrap();
        assert_eq!(d.finish().unwrap_err().code(), code::H3_FRAME_ERROR);
    }

    /// The headers-only decoder reports every frame and buffers nothing.
    #[test]
    fn headers_only_skips_payloads() {
        let mut wire = BytesMut::new();
        wire.extend_from_slice(&encode(&Frame::Headers(Bytes::from_static(b"abc"))));
        wire.extend_from_slice(&data_header(4));
        wire.extend_from_slice(b"body");
        wire.extend_from_slice(&encode(&Frame::PriorityUpdate {
            push: false,
            id: 0,
            value: Bytes::from_static(b"u=1"),
        }));
        let wire = wire.freeze();
        let mut d = FrameDecoder::headers_only();
        let mut out = Vec::new();
        for i in 0..wire.len() {
            d.push(wire.slice(i..i + 1), &mut out).unwrap();
        }
        assert_eq!(
            out,
            vec![
                Event::Skipped {
                    ty: ty::HEADERS,
                    len: 3
                },
                Event::Skipped {
                    ty: ty::DATA,
                    len: 4
                },
                Event::Skipped {
                    ty: ty::PRIORITY_UPDATE_REQUEST,
                    len: 4
                },
            ]
        );
        assert!(d.at_boundary());
    }

    #[test]
    fn grease_types() {
        assert!(ty::is_grease(0x21));
        assert!(ty::is_grease(0x21 + 0x1f * 3));
        assert!(!ty::is_grease(0x22));
    }

    proptest::proptest! {
        /// Arbitrary bytes never panic the decoder, whatever the chunking.
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512), cut in 1usize..64) {
            let data = Bytes::from(data);
            let mut d = FrameDecoder::new(256);
            let mut out = Vec::new();
            let mut i = 0;
            while i < data.len() {
                let j = (i + cut).min(data.len());
                if d.push(data.slice(i..j), &mut out).is_err() {
                    break;
                }
                i = j;
            }
        }
    }
}
