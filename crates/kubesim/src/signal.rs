//! Waiting for the signals that ask a long-running command to stop: SIGINT (Ctrl-C) and
//! SIGTERM (what `kill`, systemd and docker send).

/// Returns once SIGINT or SIGTERM arrives.
pub async fn terminated() -> std::io::Result<()> {
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = sigterm.recv() => Ok(()),
    }
}
