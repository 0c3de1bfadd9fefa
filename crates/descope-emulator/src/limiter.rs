//! Descope-like rate limiting: at most N requests in any sliding window, then the client is
//! locked out for one whole window (docs/descope-api.md §9, §10.7).
//!
//! Requests refused during a lockout do not extend it and do not count toward the next window:
//! the lockout is a fixed backoff, as Descope's docs describe ("60 s with a 60 s backoff"), and a
//! client that keeps polling still gets in once `Retry-After` has passed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Limiter {
    limit: u32,
    window: Duration,
    admitted: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

impl Limiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Limiter {
            limit,
            window,
            admitted: VecDeque::new(),
            locked_until: None,
        }
    }

    /// `Err(seconds)` when refused, with the whole seconds left of the lockout (at least 1),
    /// which is what `Retry-After` carries.
    pub fn admit(&mut self, now: Instant) -> Result<(), u64> {
        if let Some(until) = self.locked_until {
            if now < until {
                return Err(whole_seconds(until - now));
            }
            self.locked_until = None;
            self.admitted.clear();
        }
        while let Some(&first) = self.admitted.front() {
            if now.duration_since(first) >= self.window {
                self.admitted.pop_front();
            } else {
                break;
            }
        }
        if self.admitted.len() >= self.limit as usize {
            self.locked_until = Some(now + self.window);
            return Err(whole_seconds(self.window));
        }
        self.admitted.push_back(now);
        Ok(())
    }
}

fn whole_seconds(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_then_fixed_lockout() {
        let t0 = Instant::now();
        let mut l = Limiter::new(2, Duration::from_secs(10));
        assert_eq!(l.admit(t0), Ok(()));
        assert_eq!(l.admit(t0 + Duration::from_secs(1)), Ok(()));
        assert_eq!(l.admit(t0 + Duration::from_secs(2)), Err(10));
        // Refused requests do not extend the lockout.
        assert_eq!(l.admit(t0 + Duration::from_millis(7_500)), Err(5));
        assert_eq!(l.admit(t0 + Duration::from_millis(11_900)), Err(1));
        assert_eq!(l.admit(t0 + Duration::from_secs(12)), Ok(()));
    }

    #[test]
    fn the_window_slides() {
        let t0 = Instant::now();
        let mut l = Limiter::new(2, Duration::from_secs(10));
        assert_eq!(l.admit(t0), Ok(()));
        assert_eq!(l.admit(t0 + Duration::from_secs(5)), Ok(()));
        // The first request has left the window, so a third fits without a lockout.
        assert_eq!(l.admit(t0 + Duration::from_secs(10)), Ok(()));
        assert_eq!(l.admit(t0 + Duration::from_secs(11)), Err(10));
    }
}
