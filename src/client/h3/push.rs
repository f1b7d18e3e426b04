//! The body of a server push: its HEADERS and DATA frames on a push stream,
//! recorded into the client's table of pushes.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};

use super::{fields_to_strings, ClientError, Pacer, Shared};
use crate::wire::frame::{code, Event, Frame, FrameDecoder};
use crate::wire::qpack;

//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
//# A push stream could arrive after a client has sent a
//# CANCEL_PUSH frame, because a server might not have processed
//# the CANCEL_PUSH.  The client SHOULD abort reading the stream
//# with an error code of H3_REQUEST_CANCELLED.
/// Stops reading the push stream of a push the client cancelled.
pub(super) fn abort_cancelled(recv: &mut quinn::RecvStream) {
    let _ = recv
        .stop(quinn::VarInt::from_u64(code::H3_REQUEST_CANCELLED).unwrap_or(quinn::VarInt::MAX));
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn read_push_body(
    recv: &mut quinn::RecvStream,
    first: Bytes,
    push_id: u64,
    shared: &Arc<Mutex<Shared>>,
    pacer: Option<Arc<Pacer>>,
    push_bytes: &std::sync::atomic::AtomicU64,
    keep: bool,
    limit: u64,
) -> Result<(), ClientError> {
    let lock = || shared.lock().unwrap_or_else(|e| e.into_inner());
    let mut dec = FrameDecoder::new(limit as usize + 1024);
    let mut events = Vec::new();
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    let mut body = BytesMut::new();
    let mut len = 0u64;
    let mut headers_seen = false;
    let mut input = Some(first);
    loop {
        let data = match input.take() {
            Some(d) => d,
            None => {
                if let Some(p) = &pacer {
                    p.wait().await;
                }
                let max = pacer
                    .as_ref()
                    .map(|p| ((p.rate / 100).max(1200)) as usize)
                    .unwrap_or(usize::MAX);
                match recv.read_chunk(max, true).await? {
                    Some(c) => {
                        if let Some(p) = &pacer {
                            p.add(c.bytes.len() as u64);
                        }
                        c.bytes
                    }
                    None => break,
                }
            }
        };
        // Cancelled while it arrives: stop reading.
        if lock().pushes.get(&push_id).is_some_and(|e| e.cancelled) {
            abort_cancelled(recv);
            return Ok(());
        }
        dec.push(data, &mut events)
            .map_err(|e| ClientError::Protocol(e.code(), e.to_string()))?;
        for ev in events.drain(..) {
            match ev {
                Event::Frame(Frame::Headers(block)) => {
                    if headers_seen {
                        continue;
                    }
                    let fields = qpack::decode(&block, limit).map_err(|e| {
                        ClientError::Protocol(code::QPACK_DECOMPRESSION_FAILED, e.to_string())
                    })?;
                    let fs = fields_to_strings(&fields);
                    let status = fs
                        .iter()
                        .find(|(n, _)| n == ":status")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    let mut sh = lock();
                    if let Some(e) = sh.pushes.get_mut(&push_id) {
                        e.status = status;
                        e.headers = fs
                            .into_iter()
                            .filter(|(n, _)| !n.starts_with(':'))
                            .collect();
                    }
                    headers_seen = true;
                }
                Event::Data(d) => {
                    hasher.update(&d);
                    len += d.len() as u64;
                    push_bytes.fetch_add(d.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    if keep {
                        body.extend_from_slice(&d);
                    }
                }
                Event::DataStart(_)
                | Event::Skipped { .. }
                | Event::Frame(Frame::Unknown { .. }) => {}
                Event::Frame(other) => {
                    return Err(ClientError::Protocol(
                        code::H3_FRAME_UNEXPECTED,
                        format!("{other:?} on a push stream"),
                    ))
                }
            }
        }
    }
    dec.finish()
        .map_err(|e| ClientError::Protocol(e.code(), e.to_string()))?;
    let mut sh = lock();
    if let Some(e) = sh.pushes.get_mut(&push_id) {
        e.body_len = len;
        e.sha256 = crate::hex::encode(hasher.finish().as_ref());
        if keep {
            e.body = Some(body.freeze());
        }
    }
    Ok(())
}
