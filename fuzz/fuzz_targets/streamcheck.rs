//! The per-frame checks of a client's request and QPACK streams and the
//! HTTP/2 SETTINGS follower: any bytes, in chunks of any size, never a
//! panic; a request stream fed whole or piecewise gets the same verdict.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pushlab::wire::frame::{ty, Event, Frame, FrameDecoder};
use pushlab::wire::h2scan::PeerSettings;
use pushlab::wire::streamcheck::{DecoderStream, EncoderStream, RequestFrames, RequestMessage};

/// The first rule a request stream breaks, if any (as text, to compare).
fn verdict(data: &[u8], piece: usize) -> String {
    let mut d = FrameDecoder::request(4096);
    let (mut frames, mut message) = (RequestFrames::new(), RequestMessage::new());
    let mut events = Vec::new();
    for chunk in data.chunks(piece) {
        // As the server does: the frames completed before an error first.
        let pushed = d.push(Bytes::copy_from_slice(chunk), &mut events);
        for ev in events.drain(..) {
            let r = match ev {
                Event::Frame(Frame::Headers(block)) => frames
                    .on_frame(ty::HEADERS)
                    .map(|()| message.on_headers(&block)),
                Event::Skipped { ty: t, len } => frames.on_frame(t).map(|()| {
                    if t == ty::DATA {
                        message.on_data(len)
                    } else {
                        Ok(())
                    }
                }),
                _ => Ok(Ok(())),
            };
            match r {
                Ok(Ok(())) => {}
                Ok(Err(m)) => return format!("malformed {m:?}"),
                Err(v) => return format!("violation {v:?}"),
            }
        }
        if let Err(e) = pushed {
            return format!("frame error {e}");
        }
    }
    match (frames.on_end(d.at_boundary()), message.on_end()) {
        (Err(v), _) => format!("violation {v:?}"),
        (Ok(()), Err(m)) => format!("malformed {m:?}"),
        (Ok(()), Ok(())) => "ok".into(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let piece = usize::from(first % 31) + 1;
    assert_eq!(verdict(rest, rest.len().max(1)), verdict(rest, piece));
    let (mut enc, mut dec, mut peer) = (EncoderStream, DecoderStream::default(), PeerSettings::new());
    for chunk in rest.chunks(piece) {
        let _ = enc.push(chunk);
        let _ = dec.push(chunk);
        let _ = peer.push(chunk);
    }
});
