//! A stop request (the CLI's Ctrl-C) that work can both poll and wait for: an operation queued
//! on the request budget must give up its place at once, not when its turn comes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Cheap to clone; all clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    set: AtomicBool,
    wake: Notify,
}

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    pub fn trigger(&self) {
        self.inner.set.store(true, Ordering::SeqCst);
        self.inner.wake.notify_waiters();
    }

    pub fn is_triggered(&self) -> bool {
        self.inner.set.load(Ordering::SeqCst)
    }

    /// Resolves once `trigger` has been called (at once if it already was).
    pub async fn triggered(&self) {
        loop {
            let notified = self.inner.wake.notified();
            tokio::pin!(notified);
            // Registered before the check, so a trigger between the two is not missed.
            notified.as_mut().enable();
            if self.is_triggered() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_on_trigger_and_late_waiters_return_at_once() {
        let stop = Interrupt::new();
        let waiter = tokio::spawn({
            let stop = stop.clone();
            async move { stop.triggered().await }
        });
        tokio::task::yield_now().await;
        assert!(!stop.is_triggered());
        stop.trigger();
        waiter.await.unwrap();
        stop.triggered().await;
        assert!(stop.is_triggered());
    }
}
