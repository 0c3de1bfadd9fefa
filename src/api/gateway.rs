//! The one door every task goes through to reach Descope: a shared rate budget, a shared pause
//! on 429, retries with backoff, and — for writes — reading the outcome before repeating a call
//! that may already have taken effect (docs/design.md §2, Rate limiting and Ambiguous failures).

// `ApiError` is the shared error type every layer returns; boxing it would change what the
// other modules build against, for a few bytes on a path that ends in a network call.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leaky_bucket::RateLimiter;
use rand::Rng;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::error::{ApiError, ApiErrorKind};
use super::request::ApiRequest;
use super::transport::{retries_allowed, Transport};
use super::wire;
use crate::util::interrupt::Interrupt;

/// A wait for the budget shorter than this is normal pacing, not worth telling the user about.
const RATE_WAIT_NOTICE: Duration = Duration::from_secs(1);

/// Requests per window, spread evenly: one every `per / requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBudget {
    pub requests: u32,
    pub per: Duration,
}

impl RateBudget {
    /// Descope's plain-API limit is 100/60 s per IP; 90/60 keeps a margin (docs/design.md §2).
    pub const DEFAULT: RateBudget = RateBudget {
        requests: 90,
        per: Duration::from_secs(60),
    };

    /// `N/SECONDS`, e.g. `90/60`. A trailing `s` on the seconds is accepted.
    pub fn parse(text: &str) -> Result<RateBudget, String> {
        let bad = |why: &str| {
            format!(
                "invalid rate limit `{text}`: {why}; expected N/SECONDS, e.g. `90/60` for 90 requests every 60 seconds"
            )
        };
        let (n, secs) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("missing `/`"))?;
        let requests: u32 = n
            .trim()
            .parse()
            .map_err(|_| bad("the request count is not a whole number"))?;
        let secs = secs.trim();
        let secs = secs.strip_suffix('s').unwrap_or(secs);
        let secs: f64 = secs
            .trim()
            .parse()
            .map_err(|_| bad("the window is not a number of seconds"))?;
        if requests == 0 {
            return Err(bad("the request count must be at least 1"));
        }
        if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
            return Err(bad(
                "the window must be more than 0 and at most 86400 seconds",
            ));
        }
        Ok(RateBudget {
            requests,
            per: Duration::from_secs_f64(secs),
        })
    }

    /// Time between two requests; never zero, which the bucket cannot express.
    pub fn interval(&self) -> Duration {
        // leaky-bucket panics on an interval under a millisecond (it counts in whole ms).
        (self.per / self.requests.max(1)).max(Duration::from_millis(1))
    }
}

impl Default for RateBudget {
    fn default() -> Self {
        RateBudget::DEFAULT
    }
}

impl FromStr for RateBudget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RateBudget::parse(s)
    }
}

impl fmt::Display for RateBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.requests, self.per.as_secs_f64())
    }
}

/// Progress the gateway reports while it waits, for the CLI to show.
#[derive(Debug, Clone, PartialEq)]
pub enum GatewayEvent {
    /// A request waits for the rate budget (estimated wait).
    RateWait { wait: Duration },
    /// Descope answered 429: every task pauses this long.
    LockedOut { retry_after: Duration },
    /// A failed call is repeated after `delay`.
    Retrying {
        attempt: u32,
        delay: Duration,
        error: String,
    },
}

#[derive(Debug, Clone)]
pub struct GatewayOptions {
    pub rate: RateBudget,
    /// Repeats after a 5xx, timeout or broken connection (429s do not count: they are waited out).
    pub max_retries: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Total time one call may spend paused by 429s before it gives up.
    pub max_lockout_wait: Duration,
    pub events: Option<UnboundedSender<GatewayEvent>>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            rate: RateBudget::DEFAULT,
            // Not the SDKs' 3: with 20 % of answers failing (docs/design.md §3's fault modes) 3
            // retries leave ~0.2 % of calls failing, with the modes combined (~36 % of attempts)
            // ~1.7 % — too many for a 100-operation apply, whose outcome checks are reads too.
            // 6 leaves ~0.08 % at 36 %, for at most ~30 s of backoff on one call.
            max_retries: 6,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            max_lockout_wait: Duration::from_secs(15 * 60),
            events: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GatewayStats {
    /// HTTP requests actually sent (retries included).
    pub requests: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Requests repeated after a failure (429s included).
    pub retries: u64,
}

/// What a write's outcome check found in the live project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckResult {
    /// The live state already shows the write's effect.
    Done,
    NotDone,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutcome {
    /// Descope accepted the call; its answer.
    Applied(Value),
    /// The call failed ambiguously or as a possible duplicate, and reading the live state showed
    /// its effect is already there.
    AlreadyDone,
}

pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<CheckResult, ApiError>> + Send + 'a>>;

/// Reads live state (through the gateway it is given) to decide whether a write took effect.
pub trait OutcomeCheck: Send + Sync {
    fn check<'a>(&'a self, gateway: &'a Gateway) -> CheckFuture<'a>;
}

/// For writes that are safe to repeat (imports, deletes that ignore missing ids): always
/// "not done", so an ambiguous failure is simply retried and a 400 is returned as is.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCheck;

impl OutcomeCheck for NoCheck {
    fn check<'a>(&'a self, _: &'a Gateway) -> CheckFuture<'a> {
        Box::pin(async { Ok(CheckResult::NotDone) })
    }
}

/// One place on the request budget, waited for by `Gateway::reserve` and spent by
/// `Gateway::write_reserved`.
#[must_use = "a reserved turn is a spent token; send the write with it"]
#[derive(Debug)]
pub struct Turn(());

/// Cheap to clone; all clones share one budget, one pause and one set of counters.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    limiter: RateLimiter,
    opts: GatewayOptions,
    /// Until when every task holds back after a 429.
    paused_until: Mutex<Option<Instant>>,
    /// Tasks currently queued on the budget, for the wait estimate.
    waiting: AtomicUsize,
    requests: AtomicU64,
    rate_limited: AtomicU64,
    retries: AtomicU64,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("transport", &self.inner.transport)
            .field("rate", &self.inner.opts.rate)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Per call: how much of its allowances it has used.
struct Attempts {
    retries: u32,
    /// Of `retries`, those after a timeout.
    timeouts: u32,
    locked: Duration,
    /// When the call started: its retries end at the transport's deadline.
    started: Instant,
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts {
            retries: 0,
            timeouts: 0,
            locked: Duration::ZERO,
            started: Instant::now(),
        }
    }
}

enum Next {
    Retry,
    Fail(ApiError),
}

impl Gateway {
    pub fn new(transport: Transport, opts: GatewayOptions) -> Gateway {
        // Capacity 1 and one token to start with: the first call goes at once, every further
        // one waits its turn, and an idle period never saves up a burst.
        let limiter = RateLimiter::builder()
            .max(1)
            .initial(1)
            .refill(1)
            .interval(opts.rate.interval())
            .fair(true)
            .build();
        Gateway {
            inner: Arc::new(Inner {
                transport,
                limiter,
                opts,
                paused_until: Mutex::new(None),
                waiting: AtomicUsize::new(0),
                requests: AtomicU64::new(0),
                rate_limited: AtomicU64::new(0),
                retries: AtomicU64::new(0),
            }),
        }
    }

    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    pub fn stats(&self) -> GatewayStats {
        GatewayStats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            rate_limited: self.inner.rate_limited.load(Ordering::Relaxed),
            retries: self.inner.retries.load(Ordering::Relaxed),
        }
    }

    /// Time the budget alone needs for `requests` calls (no latency, no 429s): a lower bound
    /// for plan's "apply will take about ..." line.
    pub fn estimate(&self, requests: usize) -> Duration {
        let n = u32::try_from(requests).unwrap_or(u32::MAX);
        self.inner.opts.rate.interval().saturating_mul(n)
    }

    /// The license handshake (`Transport::handshake`), paced like every other call.
    pub async fn handshake(&self) -> Result<Option<String>, ApiError> {
        self.wait_for_turn().await;
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        self.inner.transport.handshake().await
    }

    /// `read`, then the raw objects of the list in `field` (`"tenants"`, `"roles"`, ...).
    pub async fn read_list(&self, req: ApiRequest, field: &str) -> Result<Vec<Value>, ApiError> {
        let body = self.read(req.clone()).await?;
        wire::list_objects(&body, field).map_err(|e| ApiError::decode(&req, e))
    }

    /// `read` of an exported document whose content sits under `key` (`flow`, `theme`).
    pub async fn read_document(&self, req: ApiRequest, key: &str) -> Result<Value, ApiError> {
        let body = self.read(req.clone()).await?;
        wire::document(&body, key).map_err(|e| ApiError::decode(&req, e))?;
        Ok(body)
    }

    /// `read`, then the answer decoded into `T` (e.g. `wire::TenantSettings`).
    pub async fn read_as<T: DeserializeOwned>(&self, req: ApiRequest) -> Result<T, ApiError> {
        let body = self.read(req.clone()).await?;
        wire::parse(&body).map_err(|e| ApiError::decode(&req, e))
    }

    /// A read is safe to repeat: 429s are waited out, 5xx/timeouts/broken connections retried.
    pub async fn read(&self, req: ApiRequest) -> Result<Value, ApiError> {
        let mut attempts = Attempts::default();
        loop {
            let err = match self.send_once(&req).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            match self.after_failure(err, &mut attempts).await {
                Next::Retry => continue,
                Next::Fail(e) => return Err(e),
            }
        }
    }

    /// A write is repeated only once `check` has shown it did not take effect: after a timeout,
    /// a broken connection or a 5xx the first call may have been applied. A 400 may mean the
    /// first call of a retry already created the object; `check` decides that too.
    pub async fn write(
        &self,
        req: ApiRequest,
        check: &dyn OutcomeCheck,
    ) -> Result<WriteOutcome, ApiError> {
        self.write_from(None, req, check).await
    }

    /// Waits for this call's turn on the budget, unless `stop` fires first (`None`): a write
    /// still queued when the user interrupts was never sent and is reported as not started.
    pub async fn reserve(&self, stop: &Interrupt) -> Option<Turn> {
        tokio::select! {
            biased;
            () = stop.triggered() => None,
            () = self.wait_for_turn() => Some(Turn(())),
        }
    }

    /// `write`, sent at once on a turn `reserve` already waited for.
    pub async fn write_reserved(
        &self,
        turn: Turn,
        req: ApiRequest,
        check: &dyn OutcomeCheck,
    ) -> Result<WriteOutcome, ApiError> {
        self.write_from(Some(turn), req, check).await
    }

    async fn write_from(
        &self,
        mut turn: Option<Turn>,
        req: ApiRequest,
        check: &dyn OutcomeCheck,
    ) -> Result<WriteOutcome, ApiError> {
        let mut attempts = Attempts::default();
        loop {
            let sent = match turn.take() {
                Some(Turn(())) => self.send_now(&req).await,
                None => self.send_once(&req).await,
            };
            let err = match sent {
                Ok(v) => return Ok(WriteOutcome::Applied(v)),
                Err(e) => e,
            };
            if err.is_ambiguous() || err.is_bad_request() {
                match check.check(self).await {
                    Ok(CheckResult::Done) => return Ok(WriteOutcome::AlreadyDone),
                    Ok(CheckResult::NotDone) => {}
                    Err(check_err) => {
                        // The write's own failure is what the user must see; the check only
                        // failed to clear it up.
                        tracing::warn!(
                            "could not read back the outcome of a failed write: {check_err}"
                        );
                        return Err(err);
                    }
                }
                if err.is_bad_request() {
                    return Err(err);
                }
            }
            match self.after_failure(err, &mut attempts).await {
                Next::Retry => continue,
                Next::Fail(e) => return Err(e),
            }
        }
    }

    /// Decides whether to repeat, and waits (pause or backoff) before saying so.
    async fn after_failure(&self, err: ApiError, attempts: &mut Attempts) -> Next {
        let inner = &self.inner;
        if let ApiErrorKind::RateLimited { retry_after } = err.kind {
            // `Retry-After: 0` would otherwise turn into a tight loop of 429s.
            let retry_after = retry_after.max(Duration::from_secs(1));
            inner.rate_limited.fetch_add(1, Ordering::Relaxed);
            if attempts.locked + retry_after > inner.opts.max_lockout_wait {
                return Next::Fail(err);
            }
            attempts.locked += retry_after;
            self.pause_all(retry_after);
            self.emit(GatewayEvent::LockedOut { retry_after });
            tracing::info!(
                "rate limited by Descope; pausing all requests for {}s",
                retry_after.as_secs()
            );
            inner.retries.fetch_add(1, Ordering::Relaxed);
            // The wait itself happens in `send_once`, where every task honours the pause.
            return Next::Retry;
        }
        // Which failures heal, and how often to try, is the transport's policy.
        let timed_out = err.kind == ApiErrorKind::Timeout;
        let used = if timed_out {
            attempts.timeouts
        } else {
            attempts.retries
        };
        if used >= retries_allowed(&err, inner.opts.max_retries)
            || attempts.retries >= inner.opts.max_retries
        {
            return Next::Fail(err);
        }
        attempts.retries += 1;
        attempts.timeouts += u32::from(timed_out);
        let delay = self.backoff(attempts.retries);
        let deadline = self.transport().options().deadline();
        if attempts.started.elapsed() + delay > deadline {
            tracing::info!("giving up: the operation's deadline of {deadline:?} has passed");
            return Next::Fail(err);
        }
        self.emit(GatewayEvent::Retrying {
            attempt: attempts.retries,
            delay,
            error: err.to_string(),
        });
        tracing::info!(
            "retrying in {delay:?} (attempt {}): {err}",
            attempts.retries
        );
        inner.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(delay).await;
        Next::Retry
    }

    /// Capped exponential backoff with jitter in [50%, 100%], so tasks that failed together do
    /// not come back together.
    fn backoff(&self, attempt: u32) -> Duration {
        let o = &self.inner.opts;
        let exp = o
            .backoff_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(o.backoff_cap);
        capped.mul_f64(rand::rng().random_range(0.5..=1.0))
    }

    fn pause_all(&self, wait: Duration) {
        let until = Instant::now() + wait;
        if let Ok(mut p) = self.inner.paused_until.lock() {
            if p.is_none_or(|current| current < until) {
                *p = Some(until);
            }
        }
    }

    fn paused_until(&self) -> Option<Instant> {
        let until = self.inner.paused_until.lock().ok().and_then(|p| *p)?;
        (until > Instant::now()).then_some(until)
    }

    async fn wait_out_pause(&self) {
        while let Some(until) = self.paused_until() {
            tokio::time::sleep_until(until).await;
        }
    }

    /// Waits for any pause and for the budget, then sends once.
    async fn send_once(&self, req: &ApiRequest) -> Result<Value, ApiError> {
        self.wait_for_turn().await;
        self.send_now(req).await
    }

    async fn send_now(&self, req: &ApiRequest) -> Result<Value, ApiError> {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        self.inner.transport.send(req).await
    }

    async fn wait_for_turn(&self) {
        loop {
            self.wait_out_pause().await;
            self.acquire().await;
            // A 429 seen by another task while this one queued: its token is spent, but
            // sending now would only prolong the lockout.
            if self.paused_until().is_none() {
                break;
            }
        }
    }

    async fn acquire(&self) {
        let inner = &self.inner;
        if inner.limiter.try_acquire(1) {
            return;
        }
        let ahead = inner.waiting.fetch_add(1, Ordering::Relaxed);
        // Decremented even when the caller gives up (its future is dropped) mid-wait.
        let _queued = Queued(&inner.waiting);
        let estimate = inner
            .opts
            .rate
            .interval()
            .saturating_mul(u32::try_from(ahead + 1).unwrap_or(u32::MAX));
        if estimate >= RATE_WAIT_NOTICE {
            self.emit(GatewayEvent::RateWait { wait: estimate });
        }
        inner.limiter.acquire_one().await;
    }

    fn emit(&self, event: GatewayEvent) {
        if let Some(tx) = &self.inner.opts.events {
            // Nobody listening any more is not an error for the calls themselves.
            let _ = tx.send(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::credentials::Credentials;
    use crate::api::transport::TransportOptions;
    use crate::secret::Secret;
    use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

    /// A gateway whose transport is never used: these tests drive the waits directly, on
    /// tokio's paused clock, where every sleep ends exactly at its deadline.
    fn offline(opts: GatewayOptions) -> (Gateway, UnboundedReceiver<GatewayEvent>) {
        let (tx, rx) = unbounded_channel();
        let creds = Credentials::new(
            "P2testprojectaaaaaaaaaaaaaaa",
            Secret::new("K2-test"),
            Some("http://127.0.0.1:1"),
        );
        let transport = Transport::new(creds, TransportOptions::default()).unwrap();
        let opts = GatewayOptions {
            events: Some(tx),
            ..opts
        };
        (Gateway::new(transport, opts), rx)
    }

    fn rate(budget: &str) -> GatewayOptions {
        GatewayOptions {
            rate: RateBudget::parse(budget).unwrap(),
            ..GatewayOptions::default()
        }
    }

    fn failure(kind: ApiErrorKind) -> ApiError {
        ApiError {
            method: "GET",
            path: "/v1/mgmt/tenant/all".into(),
            address: None,
            kind,
            credentials_hint: false,
        }
    }

    fn status(code: u16) -> ApiError {
        failure(ApiErrorKind::Status {
            status: code,
            error_code: None,
            error_description: None,
            error_message: None,
        })
    }

    fn rate_limited(secs: u64) -> ApiError {
        failure(ApiErrorKind::RateLimited {
            retry_after: Duration::from_secs(secs),
        })
    }

    /// `at` is `ms` after the start, give or take the timer wheel's 1 ms resolution.
    fn assert_at(at: Duration, ms: u64) {
        let want = Duration::from_millis(ms);
        assert!(
            at >= want && at <= want + Duration::from_millis(1),
            "at {at:?}, expected {want:?}"
        );
    }

    fn events(rx: &mut UnboundedReceiver<GatewayEvent>) -> Vec<GatewayEvent> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    /// When each of `n` tasks, started together, gets its turn.
    async fn turns(g: &Gateway, n: usize) -> Vec<Duration> {
        let start = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let g = g.clone();
                tokio::spawn(async move {
                    g.wait_for_turn().await;
                    start.elapsed()
                })
            })
            .collect();
        let mut at = Vec::new();
        for t in tasks {
            at.push(t.await.unwrap());
        }
        at.sort();
        at
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_spaces_turns_one_interval_apart_without_a_burst() {
        let (g, mut rx) = offline(rate("4/1"));
        let at = turns(&g, 5).await;
        for (i, at) in at.into_iter().enumerate() {
            assert_at(at, 250 * i as u64);
        }
        // Only the fifth, with three ahead of it, expects to wait a full second.
        assert_eq!(
            events(&mut rx),
            vec![GatewayEvent::RateWait {
                wait: Duration::from_secs(1)
            }]
        );

        // An idle second saves up no burst: one turn at once, the next an interval later.
        tokio::time::advance(Duration::from_secs(1)).await;
        let at = turns(&g, 2).await;
        assert_at(at[0], 0);
        assert_at(at[1], 250);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_of_a_second_or_more_for_the_budget_is_reported() {
        let (g, mut rx) = offline(rate("1/1"));
        let at = turns(&g, 2).await;
        assert_at(at[0], 0);
        assert_at(at[1], 1000);
        assert_eq!(
            events(&mut rx),
            vec![GatewayEvent::RateWait {
                wait: Duration::from_secs(1)
            }]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_every_task_even_one_already_queued() {
        let (g, mut rx) = offline(rate("1/1"));
        let start = Instant::now();
        g.wait_for_turn().await;
        let queued = tokio::spawn({
            let g = g.clone();
            async move {
                g.wait_for_turn().await;
                start.elapsed()
            }
        });
        // The second task is waiting for the budget when the first one's 429 arrives.
        tokio::time::advance(Duration::from_millis(100)).await;
        let mut attempts = Attempts::default();
        assert!(matches!(
            g.after_failure(rate_limited(3), &mut attempts).await,
            Next::Retry
        ));
        assert_at(start.elapsed(), 100);
        // Its token comes at 1 s, inside the pause: it waits until 3.1 s anyway.
        assert_at(queued.await.unwrap(), 3100);
        assert_eq!(
            (g.stats().rate_limited, g.stats().retries, attempts.locked),
            (1, 1, Duration::from_secs(3))
        );
        assert!(events(&mut rx).contains(&GatewayEvent::LockedOut {
            retry_after: Duration::from_secs(3)
        }));
    }

    #[tokio::test(start_paused = true)]
    async fn lockouts_wait_at_least_a_second_and_give_up_past_the_cap() {
        let (g, _rx) = offline(GatewayOptions {
            max_lockout_wait: Duration::from_secs(30),
            ..rate("1000/1")
        });
        let start = Instant::now();
        let mut attempts = Attempts::default();
        g.after_failure(rate_limited(0), &mut attempts).await;
        g.wait_for_turn().await;
        assert_at(start.elapsed(), 1000);

        let start = Instant::now();
        let mut attempts = Attempts::default();
        match g.after_failure(rate_limited(60), &mut attempts).await {
            Next::Fail(e) => assert_eq!(e.retry_after(), Some(Duration::from_secs(60))),
            Next::Retry => panic!("a 60 s lockout is past the 30 s cap"),
        }
        g.wait_for_turn().await;
        assert_at(start.elapsed(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_back_off_exponentially_with_jitter_up_to_the_cap_then_stop() {
        let (g, mut rx) = offline(GatewayOptions {
            max_retries: 5,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_millis(400),
            ..rate("1000/1")
        });
        let mut attempts = Attempts::default();
        for (attempt, full) in [100u64, 200, 400, 400, 400].into_iter().enumerate() {
            let start = Instant::now();
            assert!(matches!(
                g.after_failure(status(503), &mut attempts).await,
                Next::Retry
            ));
            let waited = start.elapsed();
            let (low, high) = (
                Duration::from_millis(full / 2),
                Duration::from_millis(full + 1),
            );
            assert!(
                low <= waited && waited <= high,
                "attempt {}: waited {waited:?}, expected {low:?}..={high:?}",
                attempt + 1
            );
            match events(&mut rx).as_slice() {
                [GatewayEvent::Retrying {
                    attempt: n, delay, ..
                }] => {
                    assert_eq!(*n as usize, attempt + 1);
                    assert!(waited >= *delay && waited <= *delay + Duration::from_millis(1));
                }
                other => panic!("expected one Retrying, got {other:?}"),
            }
        }
        let start = Instant::now();
        assert!(matches!(
            g.after_failure(status(503), &mut attempts).await,
            Next::Fail(_)
        ));
        assert!(matches!(
            g.after_failure(status(400), &mut Attempts::default()).await,
            Next::Fail(_)
        ));
        assert_at(start.elapsed(), 0);
        assert_eq!(g.stats().retries, 5);
    }

    #[test]
    fn rate_budget_parses_and_explains() {
        assert_eq!(
            RateBudget::parse("90/60").unwrap(),
            RateBudget {
                requests: 90,
                per: Duration::from_secs(60)
            }
        );
        assert_eq!(
            RateBudget::parse(" 4 / 1s ").unwrap().per,
            Duration::from_secs(1)
        );
        for bad in ["", "90", "0/60", "90/0", "x/60", "90/x", "-1/60", "90/-5"] {
            let e = RateBudget::parse(bad).unwrap_err();
            assert!(e.contains("N/SECONDS"), "{bad}: {e}");
        }
        assert_eq!(
            RateBudget::parse("4/1").unwrap().interval(),
            Duration::from_millis(250)
        );
    }
}
