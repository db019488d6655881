//! The foundations of replay: one seed, one schedule.
//!
//! If this fails, the build lost `--cfg tokio_unstable` (see `.cargo/config.toml`; a
//! `RUSTFLAGS` environment variable replaces it) and tokio's runtime RNG is seeded by the OS:
//! every cluster trace comparison would then fail at random.

use std::cell::RefCell;
use std::rc::Rc;

/// Which branch an unbiased `tokio::select!` takes when both are ready, 64 times over.
fn select_choices(seed: u64) -> Vec<u8> {
    let choices = Rc::new(RefCell::new(Vec::new()));
    let seen = choices.clone();
    let mut sim = turmoil::Builder::new().rng_seed(seed).build();
    sim.client("client", async move {
        for _ in 0..64 {
            let branch = tokio::select! {
                _ = std::future::ready(()) => 0u8,
                _ = std::future::ready(()) => 1u8,
            };
            seen.borrow_mut().push(branch);
        }
        Ok(())
    });
    let result = sim.run().map_err(|e| e.to_string());
    assert_eq!(result, Ok(()));
    choices.take()
}

#[test]
fn tokio_runtime_rng_follows_the_seed() {
    let first = select_choices(11);
    assert_eq!(first.len(), 64);
    assert!(
        first.contains(&0) && first.contains(&1),
        "select! is not random at all"
    );
    assert_eq!(
        first,
        select_choices(11),
        "same seed, different schedule: built without --cfg tokio_unstable?"
    );
}
