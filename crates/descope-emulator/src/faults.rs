//! Injected faults, drawn from a seeded RNG so a failing test replays exactly.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;

/// How a write fails after it was committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterCommitFault {
    /// Either kind, chosen by a coin from the same RNG.
    #[default]
    Either,
    /// Answer 500 with Descope's error shape.
    Error500,
    /// Close the connection without any answer.
    Drop,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Fraction of requests answered 503 before touching data.
    pub fail_rate: f64,
    /// Fraction of committed writes that then fail (see `after_commit`).
    pub fail_after_commit_rate: f64,
    pub after_commit: AfterCommitFault,
    /// Fraction of requests answered only after `slow_by` (a write is committed first).
    pub slow_rate: f64,
    /// Should exceed the client's timeout.
    pub slow_by: Duration,
    /// Let faults hit `/v1/mgmt/license` too; off because the SDKs call it once at start-up.
    pub include_license: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            fail_rate: 0.0,
            fail_after_commit_rate: 0.0,
            after_commit: AfterCommitFault::Either,
            slow_rate: 0.0,
            slow_by: Duration::from_secs(35),
            include_license: false,
        }
    }
}

/// A rate of 0 draws nothing, so enabling one fault does not shift another's sequence.
pub fn roll(rng: &mut StdRng, p: f64) -> bool {
    p > 0.0 && (p >= 1.0 || rng.random::<f64>() < p)
}

/// Whether the after-commit failure drops the connection (true) or answers 500.
pub fn drops(rng: &mut StdRng, kind: AfterCommitFault) -> bool {
    match kind {
        AfterCommitFault::Either => rng.random::<bool>(),
        AfterCommitFault::Error500 => false,
        AfterCommitFault::Drop => true,
    }
}
