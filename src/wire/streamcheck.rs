//! What a client may send on a request stream and on its QPACK streams,
//! checked frame by frame and instruction by instruction, whatever the
//! server does with the content. Pure: bytes or frame types in, the
//! connection error the RFCs prescribe out.
//!
//! The request-stream check sees every frame, including those after the
//! HEADERS of a GET whose body the server never reads for itself (it still
//! reads the stream to its end, or asks the client to stop).

use super::frame::{code, ty};

/// A rule broken: the connection error to close with, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    /// The HTTP/3 or QPACK error code.
    pub code: u64,
    /// What happened, for the CONNECTION_CLOSE reason and logs.
    pub reason: &'static str,
}

const fn unexpected(reason: &'static str) -> Violation {
    Violation {
        code: code::H3_FRAME_UNEXPECTED,
        reason,
    }
}

/// Where a request stream is in its frame sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Stage {
    /// Nothing but unknown frames yet.
    #[default]
    Headers,
    /// After the header section: DATA or trailers may follow.
    Body,
    /// After the trailer section: nothing but unknown frames.
    Trailers,
}

/// The frame sequence of one client request stream (RFC 9114 sections 4.1
/// and 7.2).
#[derive(Debug, Clone, Default)]
pub struct RequestFrames {
    stage: Stage,
}

impl RequestFrames {
    /// A new request stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frame of type `t` begins on the stream.
    pub fn on_frame(&mut self, t: u64) -> Result<(), Violation> {
        match (t, self.stage) {
            //= https://www.rfc-editor.org/rfc/rfc9114#section-4.1
            //# Receipt of an invalid sequence of frames MUST be treated as a
            //# connection error of type H3_FRAME_UNEXPECTED.  In particular, a
            //# DATA frame before any HEADERS frame, or a HEADERS or DATA frame
            //# after the trailing HEADERS frame, is considered invalid.
            (ty::HEADERS, Stage::Headers) => self.stage = Stage::Body,
            (ty::HEADERS, Stage::Body) => self.stage = Stage::Trailers,
            (ty::HEADERS, Stage::Trailers) => {
                return Err(unexpected("HEADERS after the trailer section"))
            }
            (ty::DATA, Stage::Body) => {}
            (ty::DATA, Stage::Headers) => return Err(unexpected("DATA before HEADERS")),
            (ty::DATA, Stage::Trailers) => {
                return Err(unexpected("DATA after the trailer section"))
            }
            //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
            //# If a CANCEL_PUSH frame is received on a stream other than the
            //# control stream, this MUST be treated as a connection error of
            //# type H3_FRAME_UNEXPECTED.
            (ty::CANCEL_PUSH, _) => return Err(unexpected("CANCEL_PUSH on a request stream")),
            //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.4
            //# If an endpoint receives a SETTINGS frame on a different stream,
            //# the endpoint MUST respond with a connection error of type
            //# H3_FRAME_UNEXPECTED.
            (ty::SETTINGS, _) => return Err(unexpected("SETTINGS on a request stream")),
            //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.5
            //# A client MUST NOT send a PUSH_PROMISE frame.  A server MUST treat
            //# the receipt of a PUSH_PROMISE frame as a connection error of type
            //# H3_FRAME_UNEXPECTED.
            (ty::PUSH_PROMISE, _) => return Err(unexpected("PUSH_PROMISE from a client")),
            //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.6
            //# A client MUST treat a GOAWAY frame on a stream other than the
            //# control stream as a connection error of type H3_FRAME_UNEXPECTED.
            // (A server does the same: GOAWAY belongs on the control stream.)
            (ty::GOAWAY, _) => return Err(unexpected("GOAWAY on a request stream")),
            //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.7
            //# Receipt of a MAX_PUSH_ID frame on any other stream MUST be
            //# treated as a connection error of type H3_FRAME_UNEXPECTED.
            (ty::MAX_PUSH_ID, _) => return Err(unexpected("MAX_PUSH_ID on a request stream")),
            //= https://www.rfc-editor.org/rfc/rfc9218#section-7.2
            //# Receiving a PRIORITY_UPDATE frame on a stream other than the
            //# client control stream MUST be treated as a connection error of
            //# type H3_FRAME_UNEXPECTED.
            (ty::PRIORITY_UPDATE_REQUEST | ty::PRIORITY_UPDATE_PUSH, _) => {
                return Err(unexpected("PRIORITY_UPDATE on a request stream"))
            }
            //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.8
            //# These frame types MUST NOT be sent, and their receipt MUST be
            //# treated as a connection error of type H3_FRAME_UNEXPECTED.
            (t, _) if ty::is_reserved_h2(t) => {
                return Err(unexpected(
                    "a reserved HTTP/2 frame type on a request stream",
                ))
            }
            //= https://www.rfc-editor.org/rfc/rfc9114#section-9
            //# Implementations MUST ignore unknown or unsupported values in all
            //# extensible protocol elements.
            _ => {}
        }
        Ok(())
    }

    /// The stream ended; `at_boundary` is whether the last frame was whole.
    pub fn on_end(&self, at_boundary: bool) -> Result<(), Violation> {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.1
        //# When a stream terminates cleanly, if the last frame on the stream
        //# was truncated, this MUST be treated as a connection error of type
        //# H3_FRAME_ERROR.
        if !at_boundary {
            return Err(Violation {
                code: code::H3_FRAME_ERROR,
                reason: "a request stream ended inside a frame",
            });
        }
        Ok(())
    }
}

/// A request that is malformed (RFC 9114 section 4.1.2): a stream error of
/// type H3_MESSAGE_ERROR, not a connection error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// The field sections and content length of one request, checked as its
/// frames arrive (header blocks decoded with the static table only, as the
/// server allows no dynamic table; a block QPACK cannot decode is left to
/// h3, which refuses it).
#[derive(Debug, Clone, Default)]
pub struct RequestMessage {
    sections: u8,
    content_length: Option<u64>,
    data: u64,
}

impl RequestMessage {
    /// A new request.
    pub fn new() -> Self {
        Self::default()
    }

    /// A HEADERS frame's field section.
    pub fn on_headers(&mut self, block: &[u8]) -> Result<(), Malformed> {
        self.sections = self.sections.saturating_add(1);
        let Ok(fields) = super::qpack::decode(block, u64::MAX) else {
            return Ok(());
        };
        let pseudo = |f: &super::qpack::Field| f.0.first() == Some(&b':');
        if self.sections > 1 {
            //= https://www.rfc-editor.org/rfc/rfc9114#section-4.3
            //# Pseudo-header fields MUST NOT appear in trailer sections.
            if fields.iter().any(pseudo) {
                return Err(Malformed("a pseudo-header field in the trailer section"));
            }
            return Ok(());
        }
        //= https://www.rfc-editor.org/rfc/rfc9114#section-4.3
        //# All pseudo-header fields MUST appear in the header section before
        //# regular header fields.  Any request or response that contains a
        //# pseudo-header field that appears in a header section after a
        //# regular header field MUST be treated as malformed.
        if let Some(first_regular) = fields.iter().position(|f| !pseudo(f)) {
            if fields[first_regular..].iter().any(pseudo) {
                return Err(Malformed("a pseudo-header field after a regular field"));
            }
        }
        let lengths: Vec<&[u8]> = fields
            .iter()
            .filter(|f| f.0.as_ref() == b"content-length")
            .map(|f| f.1.as_ref())
            .collect();
        if let Some(first) = lengths.first() {
            let parsed = std::str::from_utf8(first)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok());
            match parsed {
                Some(n) if lengths.iter().all(|v| v == first) => self.content_length = Some(n),
                _ => return Err(Malformed("an invalid content-length")),
            }
        }
        Ok(())
    }

    /// A DATA frame of `len` bytes began.
    pub fn on_data(&mut self, len: u64) -> Result<(), Malformed> {
        self.data = self.data.saturating_add(len);
        match self.content_length {
            Some(n) if self.data > n => Err(Malformed("more DATA than its content-length")),
            _ => Ok(()),
        }
    }

    /// The request stream ended.
    pub fn on_end(&self) -> Result<(), Malformed> {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-4.1.2
        //# A request or response that is defined as having content when it
        //# contains a Content-Length header field is malformed if the value of
        //# the Content-Length header field does not equal the sum of the DATA
        //# frame lengths received.
        match self.content_length {
            Some(n) if self.data != n => Err(Malformed("less DATA than its content-length")),
            _ => Ok(()),
        }
    }
}

/// The client's QPACK encoder stream, against a server that allows no
/// dynamic table (SETTINGS_QPACK_MAX_TABLE_CAPACITY 0): the only acceptable
/// instruction is Set Dynamic Table Capacity 0, the single byte 0x20 (a
/// 5-bit prefix integer of 0 has no other encoding).
#[derive(Debug, Clone, Default)]
pub struct EncoderStream;

impl EncoderStream {
    /// Bytes arrived on the stream.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Violation> {
        match bytes.iter().find(|b| **b != 0x20) {
            None => Ok(()),
            Some(b) if b & 0xe0 == 0x20 => Err(Violation {
                //= https://www.rfc-editor.org/rfc/rfc9204#section-4.3.1
                //# The decoder MUST treat a new dynamic table capacity value that
                //# exceeds this limit as a connection error of type
                //# QPACK_ENCODER_STREAM_ERROR.
                code: code::QPACK_ENCODER_STREAM_ERROR,
                reason: "a dynamic table capacity above the server's 0",
            }),
            Some(_) => Err(Violation {
                //= https://www.rfc-editor.org/rfc/rfc9204#section-3.2.2
                //# It is an error if the encoder attempts to add an entry that is
                //# larger than the dynamic table capacity; the decoder MUST treat
                //# this as a connection error of type QPACK_ENCODER_STREAM_ERROR.
                code: code::QPACK_ENCODER_STREAM_ERROR,
                reason: "an insertion into a dynamic table of capacity 0",
            }),
        }
    }
}

/// The client's QPACK decoder stream, against a server whose encoder never
/// uses the dynamic table: Stream Cancellations are fine, Section
/// Acknowledgments and Insert Count Increments can only be errors.
#[derive(Debug, Clone, Default)]
pub struct DecoderStream {
    /// Inside a Stream Cancellation's integer: continuation bytes read.
    continuing: Option<u8>,
}

/// Continuation bytes a 62-bit prefix integer can need.
const MAX_CONTINUATION: u8 = 10;

impl DecoderStream {
    /// Bytes arrived on the stream.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Violation> {
        let error = |reason| Violation {
            code: code::QPACK_DECODER_STREAM_ERROR,
            reason,
        };
        for &b in bytes {
            if let Some(n) = self.continuing {
                if n >= MAX_CONTINUATION {
                    return Err(error("a stream ID longer than 62 bits"));
                }
                self.continuing = (b & 0x80 != 0).then_some(n + 1);
                continue;
            }
            if b & 0x80 != 0 {
                //= https://www.rfc-editor.org/rfc/rfc9204#section-4.4.1
                //# If an encoder receives a Section Acknowledgment instruction
                //# referring to a stream on which every encoded field section with
                //# a non-zero Required Insert Count has already been acknowledged,
                //# this MUST be treated as a connection error of type
                //# QPACK_DECODER_STREAM_ERROR.
                return Err(error(
                    "a Section Acknowledgment: no section used the dynamic table",
                ));
            }
            if b & 0xc0 == 0x40 {
                // Stream Cancellation: a 6-bit prefix integer.
                self.continuing = (b & 0x3f == 0x3f).then_some(0);
                continue;
            }
            //= https://www.rfc-editor.org/rfc/rfc9204#section-4.4.3
            //# An encoder that receives an Increment field equal to zero, or one
            //# that increases the Known Received Count beyond what the encoder has
            //# sent, MUST treat this as a connection error of type
            //# QPACK_DECODER_STREAM_ERROR.
            return Err(error(
                "an Insert Count Increment: the server inserted nothing",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(frames: &[u64]) -> Result<(), Violation> {
        let mut r = RequestFrames::new();
        frames.iter().try_for_each(|t| r.on_frame(*t))
    }

    #[test]
    fn request_frame_sequences() {
        let grease = 0x1f * 3 + 0x21;
        // Allowed: headers, data, trailers, unknown frames anywhere.
        assert!(run(&[ty::HEADERS]).is_ok());
        assert!(run(&[grease, ty::HEADERS, ty::DATA, ty::DATA, grease, ty::HEADERS]).is_ok());
        assert!(run(&[ty::HEADERS, ty::HEADERS, grease, 0x4242]).is_ok());
        // Sequence errors.
        for bad in [
            &[ty::DATA][..],
            &[grease, ty::DATA],
            &[ty::HEADERS, ty::HEADERS, ty::DATA],
            &[ty::HEADERS, ty::DATA, ty::HEADERS, ty::HEADERS],
        ] {
            assert_eq!(
                run(bad).map_err(|v| v.code),
                Err(code::H3_FRAME_UNEXPECTED),
                "{bad:?}"
            );
        }
        // Control-stream-only and reserved frames, before or after HEADERS.
        for t in [
            ty::CANCEL_PUSH,
            ty::SETTINGS,
            ty::PUSH_PROMISE,
            ty::GOAWAY,
            ty::MAX_PUSH_ID,
            ty::PRIORITY_UPDATE_REQUEST,
            ty::PRIORITY_UPDATE_PUSH,
            0x02,
            0x06,
            0x08,
            0x09,
        ] {
            assert_eq!(
                run(&[t]).map_err(|v| v.code),
                Err(code::H3_FRAME_UNEXPECTED)
            );
            assert_eq!(
                run(&[ty::HEADERS, ty::DATA, t]).map_err(|v| v.code),
                Err(code::H3_FRAME_UNEXPECTED)
            );
        }
        let r = RequestFrames::new();
        assert_eq!(
            r.on_end(false).map_err(|v| v.code),
            Err(code::H3_FRAME_ERROR)
        );
        assert!(r.on_end(true).is_ok());
    }

    #[test]
    fn request_messages() {
        use crate::wire::qpack;
        let block = |fields: &[(&str, &str)]| {
            qpack::encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
        };
        let get = [(":method", "GET"), (":scheme", "https"), (":path", "/")];
        let mut m = RequestMessage::new();
        assert!(m.on_headers(&block(&get)).is_ok());
        assert!(m.on_end().is_ok());
        // Pseudo-header after a regular field; in trailers.
        let late = [(":method", "GET"), ("accept", "*/*"), (":path", "/")];
        assert!(RequestMessage::new().on_headers(&block(&late)).is_err());
        let mut m = RequestMessage::new();
        assert!(m.on_headers(&block(&get)).is_ok());
        assert!(m.on_headers(&block(&[("x-sum", "1")])).is_ok());
        let mut m = RequestMessage::new();
        assert!(m.on_headers(&block(&get)).is_ok());
        assert!(m.on_headers(&block(&[(":path", "/x")])).is_err());
        // content-length against DATA.
        let with_length = |v: &'static str| {
            let mut f = get.to_vec();
            f.push(("content-length", v));
            let mut m = RequestMessage::new();
            m.on_headers(&block(&f)).map(|()| m)
        };
        let mut m = with_length("10").expect("valid");
        assert!(m.on_data(4).is_ok() && m.on_data(6).is_ok() && m.on_end().is_ok());
        let mut m = with_length("10").expect("valid");
        assert!(m.on_data(3).is_ok() && m.on_end().is_err());
        assert!(m.on_data(8).is_err());
        for bad in ["", "-1", "1e3", "99999999999999999999999", " 5"] {
            assert!(with_length(bad).is_err(), "{bad:?}");
        }
        // Two equal values are one length; two different ones are not.
        let mut f = get.to_vec();
        f.extend([("content-length", "3"), ("content-length", "3")]);
        assert!(RequestMessage::new().on_headers(&block(&f)).is_ok());
        f.push(("content-length", "4"));
        assert!(RequestMessage::new().on_headers(&block(&f)).is_err());
        // A block QPACK cannot decode is h3's to refuse.
        assert!(RequestMessage::new().on_headers(&[0xff, 0xff]).is_ok());
    }

    #[test]
    fn encoder_stream_accepts_only_capacity_zero() {
        let mut e = EncoderStream;
        assert!(e.push(&[0x20, 0x20]).is_ok());
        assert!(e.push(&[]).is_ok());
        let code_of = |b: &[u8]| EncoderStream.push(b).map_err(|v| (v.code, v.reason));
        // Capacity 1, and capacity 100 (0x3f then 69).
        for b in [&[0x21][..], &[0x3f, 0x45]] {
            assert_eq!(
                code_of(b).map_err(|e| e.0),
                Err(code::QPACK_ENCODER_STREAM_ERROR)
            );
            assert!(code_of(b).unwrap_err().1.contains("capacity"));
        }
        // Inserts: name reference, literal name, duplicate; after a capacity 0.
        for b in [&[0x20, 0xc0, 0x01, b'x'][..], &[0x43, b'f'], &[0x00]] {
            assert_eq!(
                code_of(b).map_err(|e| e.0),
                Err(code::QPACK_ENCODER_STREAM_ERROR)
            );
        }
    }

    #[test]
    fn decoder_stream_allows_only_cancellations() {
        let mut d = DecoderStream::default();
        // Stream Cancellation for stream 4, then for stream 1000 (0x7f
        // then 1000 - 63 = 937 = 0xa9 0x07), split across pushes.
        assert!(d.push(&[0x44, 0x7f, 0xa9]).is_ok());
        assert!(d.push(&[0x07, 0x40]).is_ok());
        for b in [&[0x80u8][..], &[0x81], &[0x00], &[0x01], &[0x44, 0x3f]] {
            let mut d = DecoderStream::default();
            assert_eq!(
                d.push(b).map_err(|v| v.code),
                Err(code::QPACK_DECODER_STREAM_ERROR),
                "{b:?}"
            );
        }
        // An integer that never ends.
        let mut d = DecoderStream::default();
        assert!(d.push(&[0x7f]).is_ok());
        assert_eq!(
            d.push(&[0xff; 11]).map_err(|v| v.code),
            Err(code::QPACK_DECODER_STREAM_ERROR)
        );
    }
}
