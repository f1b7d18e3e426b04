//! How much a stream may hand a transport that interleaves what it holds
//! (h2 sends the frames of every stream it holds data for round-robin, one
//! frame each). Between two of the transport's flushes, the queue's streams
//! hand it at most [`SHARED_BUDGET`] bytes, one frame's worth, in which
//! several streams can only have a frame each; a stream that has had the
//! transport to itself since the last flush may hand up to [`SOLO_BUDGET`],
//! as its frames cannot be interleaved with anyone's. The rest waits for the
//! next flush, when the stream the queue prefers goes first.
//!
//! Pure bookkeeping: the transport glue reports bytes handed and flushes.

use super::StreamKey;

/// Bytes the queue's streams may hand the transport between two of its
/// flushes: one HTTP/2 frame (16 KiB by default).
pub const SHARED_BUDGET: u64 = 16 * 1024;

/// The same for a stream that has been the only one handing data since the
/// last flush.
pub const SOLO_BUDGET: u64 = 256 * 1024;

/// Who handed the transport data since its last flush.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlushBudget {
    /// Bytes handed since the last flush.
    held: u64,
    /// The one stream that handed data, if only one did.
    solo: Option<StreamKey>,
    /// More than one stream handed data.
    shared: bool,
}

impl FlushBudget {
    /// How many bytes `stream` may hand the transport now.
    pub fn room(&self, stream: StreamKey) -> u64 {
        let solo = self.held == 0 || (!self.shared && self.solo == Some(stream));
        let cap = if solo { SOLO_BUDGET } else { SHARED_BUDGET };
        cap.saturating_sub(self.held)
    }

    /// Records `n` bytes `stream` handed the transport.
    pub fn handed(&mut self, stream: StreamKey, n: u64) {
        if self.held == 0 {
            self.solo = Some(stream);
            self.shared = false;
        } else if self.solo != Some(stream) {
            self.shared = true;
        }
        self.held += n;
    }

    /// Bytes handed since the last flush (what the transport may still
    /// hold: at a flush it has written everything it could).
    pub fn held(&self) -> u64 {
        self.held
    }

    /// The transport flushed: every frame it could write, it has written.
    pub fn flushed(&mut self) {
        *self = FlushBudget::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One stream alone may hand the transport up to the solo budget; once
    /// another stream has data in it, everyone shares one frame's worth
    /// until it flushes.
    #[test]
    fn budget_is_per_flush_and_shared_by_one_frame() {
        let mut b = FlushBudget::default();
        assert_eq!(b.room(1), SOLO_BUDGET);
        b.handed(1, 20_000);
        assert_eq!(b.room(1), SOLO_BUDGET - 20_000);
        assert_eq!(b.room(3), 0, "20 KB of stream 1 still in the transport");
        b.flushed();
        assert_eq!(b.room(3), SOLO_BUDGET);
        b.handed(3, 4_000);
        assert_eq!(b.room(5), SHARED_BUDGET - 4_000);
        b.handed(5, 1_000);
        assert_eq!(b.room(3), SHARED_BUDGET - 5_000, "no longer alone");
        b.handed(3, SHARED_BUDGET - 5_000);
        assert_eq!(b.room(3), 0);
        assert_eq!(b.held(), SHARED_BUDGET);
        b.flushed();
        assert_eq!(b.held(), 0);
    }
}
