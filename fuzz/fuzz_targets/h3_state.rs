//! Structure-aware: arbitrary sequences of what a client and the server's
//! own glue do to one HTTP/3 connection's control state (control-stream
//! frames of any type and payload, request streams opening, pushes
//! promised, opened, cancelled and finished). Never a panic; and the
//! state's promises hold throughout: a connection error is reported once,
//! with an HTTP/3 error code; MAX_PUSH_ID never goes down; no push ID is
//! allocated beyond it.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pushlab::http3::state::{Action, ControlState};
use pushlab::stats::PushEnd;
use pushlab::wire::frame;

#[derive(Debug, Arbitrary)]
enum Op {
    /// A frame on the control stream: a type (common ones likelier) and a
    /// payload, parsed as the glue parses it.
    ControlFrame {
        ty: FrameType,
        payload: Vec<u8>,
    },
    /// A second control stream (a connection error).
    ControlStream,
    RequestStream(u16),
    Allocate(u8),
    Attach {
        push: u8,
        stream: u16,
    },
    CancelByServer(u8),
    Finished {
        push: u8,
        end: u8,
        written: u16,
        refused: u16,
    },
}

#[derive(Debug, Arbitrary)]
enum FrameType {
    Data,
    Headers,
    CancelPush,
    Settings,
    PushPromise,
    Goaway,
    MaxPushId,
    PriorityUpdateRequest,
    PriorityUpdatePush,
    Other(u64),
}

impl FrameType {
    fn code(&self) -> u64 {
        match self {
            FrameType::Data => 0x0,
            FrameType::Headers => 0x1,
            FrameType::CancelPush => 0x3,
            FrameType::Settings => 0x4,
            FrameType::PushPromise => 0x5,
            FrameType::Goaway => 0x7,
            FrameType::MaxPushId => 0xd,
            FrameType::PriorityUpdateRequest => 0xf0700,
            FrameType::PriorityUpdatePush => 0xf0701,
            FrameType::Other(t) => *t,
        }
    }
}

/// Counts connection errors among `actions`, checking their codes.
fn count(closes: &mut u32, actions: &[Action]) {
    for a in actions {
        if let Action::Close { code, .. } = a {
            *closes += 1;
            assert!(
                (0x100..=0x110).contains(code) || (0x200..=0x202).contains(code),
                "{code:#x}"
            );
        }
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut s = ControlState::new(100);
    s.on_control_stream();
    let mut closes = 0;
    let mut last_max = None;
    for op in ops {
        match op {
            Op::ControlFrame { ty, payload } => {
                let ty = ty.code();
                // DATA never reaches the parser; the glue rejects it on the
                // control stream as the parser rejects reserved types.
                if ty == 0 {
                    continue;
                }
                match frame::parse(ty, Bytes::from(payload)) {
                    Ok(f) => count(&mut closes, &s.on_control_frame(f)),
                    Err(e) => {
                        let a: Vec<Action> = s
                            .connection_error(e.code(), "malformed")
                            .into_iter()
                            .collect();
                        count(&mut closes, &a)
                    }
                }
            }
            Op::ControlStream => s.on_control_stream(),
            Op::RequestStream(i) => s.on_request_stream(u64::from(i) * 4),
            Op::Allocate(n) => {
                if let Some(id) = s.allocate_push(&format!("/p{n}")) {
                    let max = s.max_push_id().expect("a push ID needs MAX_PUSH_ID");
                    assert!(id <= max, "push {id} beyond MAX_PUSH_ID {max}");
                }
            }
            Op::Attach { push, stream } => {
                s.attach_push_stream(u64::from(push), u64::from(stream) * 4 + 3);
            }
            Op::CancelByServer(p) => count(&mut closes, &s.cancel_by_server(u64::from(p))),
            Op::Finished {
                push,
                end,
                written,
                refused,
            } => {
                let end = match end % 3 {
                    0 => PushEnd::Completed,
                    1 => PushEnd::ClientRefused,
                    _ => PushEnd::ServerGaveUp,
                };
                s.push_finished(u64::from(push), end, u64::from(written), u64::from(refused));
            }
        }
        let max = s.max_push_id();
        assert!(
            max >= last_max,
            "MAX_PUSH_ID went down: {last_max:?} -> {max:?}"
        );
        last_max = max;
        assert!(closes <= 1, "a connection error reported twice");
    }
});
