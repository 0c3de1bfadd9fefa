//! The one door every task goes through to reach Descope: a shared rate budget, a shared pause
//! on 429, retries with backoff, and — for writes — reading the outcome before repeating a call
//! that may already have taken effect (docs/design.md §2, Rate limiting and Ambiguous failures).

// `ApiError` is the shared error type every layer returns; boxing it would change what the
// other modules build against, for a few bytes on a path that ends in a network call.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rand::Rng;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::error::{ApiError, ApiErrorKind};
use super::request::ApiRequest;
use super::transport::{retries_allowed, Answer, Transport};
use super::window::{Memory, Ticket, Window};
use super::wire;
use crate::util::interrupt::Interrupt;

/// The budget type, shared with the emulator, which models Descope's limit with it.
pub use descope_emulator::RateBudget;

/// A wait for the budget shorter than this is normal pacing, not worth telling the user about.
const RATE_WAIT_NOTICE: Duration = Duration::from_secs(1);

/// 90/60 stays under Descope's plain-API limit of 100/60 per IP (docs/design.md §2).
pub const DEFAULT_RATE: RateBudget = RateBudget {
    requests: 90,
    window: Duration::from_secs(60),
};

/// Most requests in flight when `parallelism` is not set: enough for 50 requests a second at
/// over a second of latency, few enough not to look like an attack.
pub const MAX_IN_FLIGHT: usize = 64;

/// Progress the gateway reports while it waits, for the CLI to show.
#[derive(Debug, Clone, PartialEq)]
pub enum GatewayEvent {
    /// Requests wait for the rate window (this one's wait); said once per stretch of waiting.
    RateWait { wait: Duration },
    /// A 429 showed that Descope allows fewer requests than the budget: from now on this one.
    BudgetLearned { budget: RateBudget },
    /// Descope answered 429: every task pauses this long.
    LockedOut { retry_after: Duration },
    /// A failed call is repeated after `delay`.
    Retrying {
        attempt: u32,
        delay: Duration,
        error: String,
    },
    /// A read of one request per tenant (`export`, `--adopt`): how far it got, and how long
    /// the rest takes at the request budget.
    Reading {
        what: &'static str,
        done: usize,
        total: usize,
        left: Duration,
    },
}

#[derive(Debug, Clone)]
pub struct GatewayOptions {
    pub rate: RateBudget,
    /// Most requests in flight (bursts included); `None` sizes it from the measured latency
    /// (rate × latency, Little's law), up to `MAX_IN_FLIGHT`.
    pub parallelism: Option<usize>,
    /// The file that remembers this machine's sends to this endpoint across commands
    /// (`window::Memory`); `None` remembers nothing beyond this gateway.
    pub memory: Option<PathBuf>,
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
            rate: DEFAULT_RATE,
            parallelism: None,
            memory: None,
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
pub struct Turn {
    ticket: Ticket,
    _slot: FlightSlot,
}

/// Cheap to clone; all clones share one budget, one pause and one set of counters.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    window: Mutex<Window>,
    memory: Mutex<Option<Memory>>,
    opts: GatewayOptions,
    /// Until when every task holds back after a 429.
    paused_until: Mutex<Option<Instant>>,
    /// Requests between taking their place in flight and their answer.
    in_flight: AtomicUsize,
    flight_freed: tokio::sync::Notify,
    /// An answer came back (or a reservation was given back): the window may have room.
    answered: tokio::sync::Notify,
    /// Smoothed round trip in nanoseconds as f64 bits; 0 until the first answer.
    latency: AtomicU64,
    /// A wait for the window has been reported and no request has gone without waiting since.
    wait_reported: AtomicBool,
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A place among the requests in flight, given back when dropped.
/// A place among the requests in flight, freed when dropped (owned, so a reserved turn can
/// wait in the executor while it journals the start).
struct FlightSlot(Arc<Inner>);

impl Drop for FlightSlot {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.flight_freed.notify_waiters();
    }
}

/// A reserved moment in the window, given back if its request is never sent (the caller gave
/// up while waiting for it).
struct Reserved<'a> {
    inner: &'a Inner,
    ticket: Ticket,
    armed: bool,
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        if self.armed {
            lock(&self.inner.window).release(self.ticket);
            self.inner.answered.notify_waiters();
        }
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
        let mut window = Window::new(opts.rate);
        let memory = opts.memory.clone().map(|path| {
            let (memory, ages) = Memory::open(path, opts.rate.window);
            window.preload(Instant::now(), ages);
            memory
        });
        Gateway {
            inner: Arc::new(Inner {
                transport,
                window: Mutex::new(window),
                memory: Mutex::new(memory),
                opts,
                paused_until: Mutex::new(None),
                in_flight: AtomicUsize::new(0),
                flight_freed: tokio::sync::Notify::new(),
                answered: tokio::sync::Notify::new(),
                latency: AtomicU64::new(0),
                wait_reported: AtomicBool::new(false),
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

    /// Time the window alone needs for `requests` more calls from now (no latency, no 429s):
    /// a lower bound for plan's "apply will take about ..." line.
    pub fn estimate(&self, requests: usize) -> Duration {
        lock(&self.inner.window).estimate(Instant::now(), requests)
    }

    /// Says how far a read of one request per tenant got (shown with the command's other
    /// notices), at its start and every 50 requests, when it is long enough to need it (over
    /// 20): every tenant of a large project can take minutes at the budget.
    pub fn progress(&self, what: &'static str, done: usize, total: usize) {
        if total <= 20 || !done.is_multiple_of(50) {
            return;
        }
        let left = self.estimate(total.saturating_sub(done));
        self.emit(GatewayEvent::Reading {
            what,
            done,
            total,
            left,
        });
    }

    /// The budget in force: the configured one, or what a 429 showed Descope allows.
    pub fn budget(&self) -> RateBudget {
        lock(&self.inner.window).budget()
    }

    /// The license handshake (`Transport::handshake`), paced like every other call.
    pub async fn handshake(&self) -> Result<Option<String>, ApiError> {
        let _slot = self.take_flight_slot().await;
        let ticket = self.wait_for_turn().await;
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = self.inner.transport.handshake().await;
        self.note_answered(ticket);
        self.observe(started, result.as_ref().err());
        result
    }

    /// `read`, then the objects of the list in `field` (`"tenants"`, `"roles"`, ...) as the
    /// server wrote them: text, not parsed trees (a parsed 17-field tenant takes about 2.8 KB,
    /// its text 350 bytes).
    pub async fn read_list(
        &self,
        req: ApiRequest,
        field: &str,
    ) -> Result<Vec<Box<RawValue>>, ApiError> {
        self.read_answer(&req, |answer| match wire::list_raw(&answer.body, field) {
            Some(list) => list.map_err(|e| ApiError::decode(&req, e)),
            // Not a JSON object: the parsed answer says what it is.
            None => wire::list_objects(self.inner.transport.decode(&req, answer)?, field)
                .map(|objects| objects.iter().map(wire::raw_text).collect())
                .map_err(|e| ApiError::decode(&req, e)),
        })
        .await
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
        self.read_answer(&req, |answer| self.inner.transport.decode(&req, answer))
            .await
    }

    /// `read`, the answer taken by `decode`, whose error counts as the read's.
    async fn read_answer<T>(
        &self,
        req: &ApiRequest,
        decode: impl Fn(&Answer) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut attempts = Attempts::default();
        loop {
            let err = match self.send_once(req).await.and_then(|a| decode(&a)) {
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
            turn = async {
                let slot = self.take_flight_slot().await;
                let ticket = self.wait_for_turn().await;
                Turn { ticket, _slot: slot }
            } => Some(turn),
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
                Some(turn) => self.send_now(&req, turn).await,
                None => self.send_once(&req).await,
            }
            .and_then(|answer| self.inner.transport.decode(&req, &answer));
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
            // The requests in flight when the lockout began all come back 429: one notice.
            if self.pause_all(retry_after) {
                self.emit(GatewayEvent::LockedOut { retry_after });
                tracing::info!(
                    "rate limited by Descope; pausing all requests for {}s",
                    retry_after.as_secs()
                );
            }
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

    /// Pauses every task until `wait` from now; true when no pause was running already.
    fn pause_all(&self, wait: Duration) -> bool {
        let now = Instant::now();
        let until = now + wait;
        let mut p = lock(&self.inner.paused_until);
        let new = p.is_none_or(|current| current <= now);
        if p.is_none_or(|current| current < until) {
            *p = Some(until);
        }
        new
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

    /// Waits for a place in flight, any pause and the window, then sends once.
    async fn send_once(&self, req: &ApiRequest) -> Result<Answer, ApiError> {
        let slot = self.take_flight_slot().await;
        let ticket = self.wait_for_turn().await;
        self.send_now(
            req,
            Turn {
                ticket,
                _slot: slot,
            },
        )
        .await
    }

    /// Sends on a turn already waited for; the place in flight is held until the answer.
    async fn send_now(&self, req: &ApiRequest, turn: Turn) -> Result<Answer, ApiError> {
        let sent_at = turn.ticket;
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = self.inner.transport.send_raw(req).await;
        self.note_answered(sent_at);
        if let Err(ApiError {
            kind: ApiErrorKind::RateLimited { retry_after },
            ..
        }) = &result
        {
            self.refused(sent_at, *retry_after);
        }
        self.observe(started, result.as_ref().err());
        result
    }

    /// The request is answered: it counts for the window (the next command's too) from its
    /// answer less the fastest round trip.
    fn note_answered(&self, ticket: Ticket) {
        let now = Instant::now();
        let counts_from = lock(&self.inner.window).answered(ticket, now);
        if let Some(m) = lock(&self.inner.memory).as_mut() {
            m.record(SystemTime::now() - (now - counts_from));
        }
        self.inner.answered.notify_waiters();
    }

    /// Descope refused the request sent at `sent_at`: what it accepted in the window before
    /// that is the budget from now on (said once, when it goes down).
    fn refused(&self, sent_at: Ticket, retry_after: Duration) {
        let learned = {
            let mut w = lock(&self.inner.window);
            w.mark_refused(sent_at);
            w.learn(sent_at, retry_after)
        };
        if let Some(budget) = learned {
            tracing::warn!(
                "Descope allowed only {} requests per {}s: continuing at that budget (--rate-limit {})",
                budget.requests,
                budget.window.as_secs_f64(),
                budget
            );
            self.emit(GatewayEvent::BudgetLearned { budget });
        }
    }

    /// Feeds the round-trip estimate behind the in-flight target; a request without an answer
    /// (timeout, broken connection) says nothing about latency.
    fn observe(&self, started: Instant, err: Option<&ApiError>) {
        if err
            .is_some_and(|e| matches!(e.kind, ApiErrorKind::Timeout | ApiErrorKind::Connection(_)))
        {
            return;
        }
        let sample = started.elapsed().as_secs_f64();
        let _ = self
            .inner
            .latency
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                let old = f64::from_bits(bits);
                let new = if bits == 0 {
                    sample
                } else {
                    0.8 * old + 0.2 * sample
                };
                Some(new.max(f64::MIN_POSITIVE).to_bits())
            });
    }

    /// The smoothed round trip, once one answer has come back.
    pub fn latency(&self) -> Option<Duration> {
        let bits = self.inner.latency.load(Ordering::Relaxed);
        (bits != 0).then(|| Duration::from_secs_f64(f64::from_bits(bits)))
    }

    /// How many requests may be in flight now. Keeping the window busy takes its rate times the
    /// round trip in flight (Little's law), with a quarter more for jitter; while the window
    /// has room, as many as it takes at once. Capped by `parallelism`, else `MAX_IN_FLIGHT`.
    pub fn in_flight_target(&self) -> usize {
        let cap = self.inner.opts.parallelism.unwrap_or(MAX_IN_FLIGHT).max(1);
        let (rate, room) = {
            let mut w = lock(&self.inner.window);
            (w.rate(), w.room(Instant::now()))
        };
        let Some(latency) = self.latency() else {
            return cap;
        };
        let little = (rate * latency.as_secs_f64() * 1.25).ceil() as usize + 1;
        little.max(room).clamp(1, cap)
    }

    async fn take_flight_slot(&self) -> FlightSlot {
        let inner = &*self.inner;
        loop {
            // Registered before the check, so a slot freed in between still wakes this task.
            let freed = inner.flight_freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let target = self.in_flight_target();
            let taken = inner
                .in_flight
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < target).then_some(n + 1)
                });
            if taken.is_ok() {
                return FlightSlot(self.inner.clone());
            }
            freed.await;
        }
    }

    /// Waits out any 429 pause and takes the earliest moment the window allows; returns it.
    async fn wait_for_turn(&self) -> Ticket {
        let inner = &*self.inner;
        loop {
            self.wait_out_pause().await;
            // Registered before looking, so an answer in between still wakes this task.
            let answered = inner.answered.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            let now = Instant::now();
            let Some(ticket) = lock(&inner.window).reserve(now) else {
                // The window is full of requests still on their way: the first answer frees
                // a place W seconds later.
                answered.await;
                continue;
            };
            let at = ticket.at;
            let mut reserved = Reserved {
                inner,
                ticket,
                armed: true,
            };
            if at > now {
                let wait = at - now;
                // One notice per stretch of waiting, not one per waiting request.
                if wait >= RATE_WAIT_NOTICE && !inner.wait_reported.swap(true, Ordering::Relaxed) {
                    self.emit(GatewayEvent::RateWait { wait });
                }
                tokio::time::sleep_until(at).await;
            } else {
                inner.wait_reported.store(false, Ordering::Relaxed);
            }
            // A 429 seen by another task while this one waited: sending now would only
            // prolong the lockout, so the place goes back and the pause is waited out.
            if self.paused_until().is_none() {
                reserved.armed = false;
                return ticket;
            }
        }
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
            rate: budget.parse().unwrap(),
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

    /// A turn answered at once (the transport is never called).
    async fn turn(g: &Gateway) -> Ticket {
        let t = g.wait_for_turn().await;
        g.note_answered(t);
        t
    }

    /// When each of `n` tasks, started together, gets its turn.
    async fn turns(g: &Gateway, n: usize) -> Vec<Duration> {
        let start = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let g = g.clone();
                tokio::spawn(async move {
                    let t = g.wait_for_turn().await;
                    g.note_answered(t);
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
    async fn an_empty_window_bursts_then_turns_follow_the_window() {
        let (g, mut rx) = offline(rate("4/1"));
        // 4 less the margin of one: three at once, the rest as the first ones leave the window.
        let at = turns(&g, 7).await;
        for (i, at) in at.into_iter().enumerate() {
            // A window, plus the window's 5 ms of slack, per three.
            assert_at(at, 1005 * (i as u64 / 3));
        }
        // Four tasks waited, one notice.
        assert_eq!(
            events(&mut rx),
            vec![GatewayEvent::RateWait {
                wait: Duration::from_millis(1005)
            }]
        );

        // An idle window is a fresh burst.
        tokio::time::advance(Duration::from_secs(2)).await;
        let at = turns(&g, 3).await;
        assert_eq!(at, vec![Duration::ZERO; 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_is_reported_once_per_stretch_of_waiting() {
        let (g, mut rx) = offline(rate("2/1"));
        let at = turns(&g, 15).await;
        assert_at(at[14], 14_070);
        assert_eq!(
            events(&mut rx),
            vec![GatewayEvent::RateWait {
                wait: Duration::from_millis(1005)
            }],
            "fourteen waits, one notice"
        );
        // After a turn without waiting, the next stretch is reported again.
        tokio::time::advance(Duration::from_secs(2)).await;
        let at = turns(&g, 2).await;
        assert_at(at[1], 1005);
        assert_eq!(events(&mut rx).len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_teaches_the_budget_once_and_the_window_follows_it() {
        let (g, mut rx) = offline(rate("10/1"));
        let sent: Vec<Ticket> = {
            let mut v = Vec::new();
            for _ in 0..9 {
                v.push(turn(&g).await);
            }
            v
        };
        // Descope took four; the fifth and everything after it came back 429.
        for at in &sent[4..] {
            g.refused(*at, Duration::from_secs(1));
        }
        assert_eq!(g.budget(), RateBudget::new(4, Duration::from_secs(1)));
        assert_eq!(
            events(&mut rx),
            vec![GatewayEvent::BudgetLearned {
                budget: RateBudget::new(4, Duration::from_secs(1))
            }]
        );
        // Three (four less the margin) per window from now on.
        tokio::time::advance(Duration::from_millis(1005)).await;
        let at = turns(&g, 4).await;
        assert_eq!(&at[..3], &[Duration::ZERO; 3]);
        assert_at(at[3], 1005);
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_follows_littles_law_within_the_cap() {
        let (g, _rx) = offline(rate("100/2"));
        assert_eq!(
            g.in_flight_target(),
            MAX_IN_FLIGHT,
            "no latency measured yet"
        );
        // 99 per 2 s at 500 ms: ~25 in flight keep the window busy (+25 %, +1).
        g.observe(Instant::now() - Duration::from_millis(500), None);
        for _ in 0..99 {
            g.wait_for_turn().await;
        }
        assert_eq!(g.in_flight_target(), 32);
        let (capped, _rx) = offline(GatewayOptions {
            parallelism: Some(16),
            ..rate("100/2")
        });
        capped.observe(Instant::now() - Duration::from_millis(500), None);
        assert_eq!(capped.in_flight_target(), 16);
        // A window with room takes a burst of as many as it has room for, up to the cap.
        assert_eq!(g.latency(), Some(Duration::from_millis(500)));
        let (fresh, _rx) = offline(rate("100/2"));
        fresh.observe(Instant::now() - Duration::from_millis(50), None);
        assert_eq!(fresh.in_flight_target(), MAX_IN_FLIGHT);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_in_flight_never_exceed_the_target() {
        let (g, _rx) = offline(GatewayOptions {
            parallelism: Some(3),
            ..rate("1000/1")
        });
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (g, peak) = (g.clone(), peak.clone());
                tokio::spawn(async move {
                    let _slot = g.take_flight_slot().await;
                    let now = g.inner.in_flight.load(Ordering::SeqCst);
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                })
            })
            .collect();
        let start = Instant::now();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_at(start.elapsed(), 400);
    }

    #[tokio::test(start_paused = true)]
    async fn the_previous_commands_sends_count_against_this_one() {
        let dir = tempfile::tempdir().unwrap();
        let memory = Some(dir.path().join("window.log"));
        let (first, _rx) = offline(GatewayOptions {
            memory: memory.clone(),
            ..rate("4/60")
        });
        for _ in 0..3 {
            turn(&first).await;
        }
        drop(first);
        let (second, mut rx) = offline(GatewayOptions {
            memory,
            ..rate("4/60")
        });
        assert_eq!(second.estimate(1), Duration::from_secs(60));
        // The paused clock does not move the wall clock the memory is kept in: the wait is
        // the window, give or take the test's own run time.
        let start = Instant::now();
        second.wait_for_turn().await;
        let waited = start.elapsed();
        assert!(waited > Duration::from_secs(58), "{waited:?}");
        assert!(matches!(
            events(&mut rx)[..],
            [GatewayEvent::RateWait { .. }]
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_every_task_even_one_already_queued() {
        let (g, mut rx) = offline(rate("1/1"));
        let start = Instant::now();
        turn(&g).await;
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
}
