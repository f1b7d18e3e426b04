//! The request pipeline shared by every protocol, and connection draining.

/// After a shutdown signal: waits for connection tasks to finish, at most
/// `limit`, then aborts the rest.
pub async fn drain_connections(
    conns: &mut tokio::task::JoinSet<()>,
    limit: std::time::Duration,
    what: &str,
) {
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            r = conns.join_next() => if r.is_none() { break },
            _ = &mut deadline => {
                tracing::warn!(remaining = conns.len(), "shutdown timeout: closing remaining {what} connections");
                conns.abort_all();
                break;
            }
        }
    }
}
