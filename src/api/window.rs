//! The rate window (docs/design.md §2, Rate limiting): a request may be sent when fewer than
//! N − margin of this machine's requests to this Descope endpoint fall in the last W seconds.
//! An empty window is spent at once (a burst); once it is full, each request waits for an
//! earlier one to leave it, which paces at exactly the window's rate.
//!
//! Descope counts a request somewhere between its send and its answer, and the first requests
//! of a burst take longer on the way (new connections) than later ones: counting from the send
//! let a later request arrive before an earlier one had left Descope's window (3 429s in every
//! 300-create run at 100/2). So a request leaves the window W after its send plus whatever its
//! round trip took beyond the fastest one seen (its answer less the fastest round trip): the
//! delay that varies is what is uncertain, not the part every request shares. A request still
//! unanswered is in the window.
//!
//! Why not `governor` or `leaky-bucket`: both are token buckets. A bucket of capacity N that
//! refills at N/W lets through up to 2N − 1 requests in some W-second window (a full bucket,
//! then the refill), and a smaller bucket wastes the empty window; neither can load the send
//! times of the previous command, which `plan` → `apply` → `plan` needs (docs/dependencies.md).
//!
//! Requests are remembered in a small file per endpoint (`Memory`), one line of Unix
//! milliseconds per request (the moment it counts from), appended as answers come and trimmed
//! to the last window when the next command loads it, so commands run back to back share one
//! window.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::gateway::RateBudget;

/// Requests kept back from the budget: pacing at exactly N per W trips a sliding-window limiter
/// whose clock disagrees with ours by a few milliseconds of latency jitter.
pub fn margin(requests: u32) -> u32 {
    (requests / 100).max(1)
}

/// Most requests that may fall in one window: N − margin, never less than one.
pub fn limit_of(requests: u32) -> u32 {
    requests.saturating_sub(margin(requests)).max(1)
}

/// One send: when, when it was answered, and whether Descope refused it (a refused request
/// does not count toward Descope's window, which is what learning the real budget counts).
#[derive(Debug, Clone, Copy)]
struct Sent {
    ticket: Ticket,
    answered: Option<Instant>,
    refused: bool,
}

/// Added to every stay in the window: the timer wakes a sender up to a millisecond late and the
/// memory keeps whole milliseconds, and a burst released even 1 ms early arrives all at once.
const SLACK: Duration = Duration::from_millis(5);

impl Sent {
    /// When it leaves a window this long (`fastest`: the fastest round trip seen); `None`
    /// while unanswered.
    fn leaves(&self, window: Duration, fastest: Duration) -> Option<Instant> {
        self.answered
            .map(|a| a.checked_sub(fastest).unwrap_or(a).max(self.ticket.at) + window + SLACK)
    }

    fn in_window(&self, window: Duration, fastest: Duration, at: Instant) -> bool {
        self.leaves(window, fastest).is_none_or(|end| end > at)
    }
}

/// One reserved place in the window: when its request may go, and which reservation it is
/// (several may share an instant in a burst).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub at: Instant,
    id: u64,
}

/// The send times of the last window (and reservations ahead of now), oldest first.
#[derive(Debug)]
pub struct Window {
    configured: RateBudget,
    /// What a 429 showed Descope allows: what it accepted in the window its `Retry-After`
    /// gave (Descope locks a client out for one window, docs/descope-api.md §9). Kept on top
    /// of the configured budget, which stays the ceiling.
    learned: Option<RateBudget>,
    sent: VecDeque<Sent>,
    next_id: u64,
    /// The fastest round trip seen (none yet: zero, every request counts until its answer).
    fastest: Option<Duration>,
}

impl Window {
    pub fn new(budget: RateBudget) -> Window {
        Window {
            configured: budget,
            learned: None,
            sent: VecDeque::new(),
            next_id: 0,
            fastest: None,
        }
    }

    /// The budget in force: the configured one, or the one a 429 taught.
    pub fn budget(&self) -> RateBudget {
        self.learned.unwrap_or(self.configured)
    }

    /// Each rule a send must keep: (most requests, in any window this long).
    fn rules(&self) -> impl Iterator<Item = (usize, Duration)> + '_ {
        std::iter::once(self.configured)
            .chain(self.learned)
            .map(|b| (limit_of(b.requests) as usize, b.window))
    }

    /// Requests per second the rules allow in the long run.
    pub fn rate(&self) -> f64 {
        self.rules()
            .map(|(limit, window)| limit as f64 / window.as_secs_f64())
            .fold(f64::INFINITY, f64::min)
    }

    /// Most requests one window takes (of the tightest rule).
    pub fn limit(&self) -> usize {
        self.rules().map(|(l, _)| l).min().unwrap_or(1)
    }

    fn forget_before(&mut self, now: Instant) {
        // The configured window is the longest: a learned one is never longer.
        let window = self.configured.window;
        let fastest = self.fastest();
        self.sent.retain(|s| s.in_window(window, fastest, now));
    }

    /// Requests the window takes right now without waiting (unanswered requests and
    /// reservations ahead of now are spoken for).
    pub fn room(&mut self, now: Instant) -> usize {
        self.forget_before(now);
        let (sent, fastest) = (&self.sent, self.fastest());
        self.rules()
            .map(|(limit, window)| {
                let used = sent
                    .iter()
                    .filter(|s| s.in_window(window, fastest, now))
                    .count();
                limit.saturating_sub(used)
            })
            .min()
            .unwrap_or(0)
    }

    /// The earliest moment at or after `now` at which one more request keeps every window at
    /// its limit or under; `None` when that depends on answers still to come.
    fn earliest(&self, now: Instant) -> Option<Instant> {
        let fastest = self.fastest();
        let mut at = now;
        for (limit, window) in self.rules() {
            let mut ends: Vec<Instant> = Vec::new();
            let mut pending = 0;
            for s in self
                .sent
                .iter()
                .filter(|s| s.in_window(window, fastest, now))
            {
                match s.leaves(window, fastest) {
                    Some(end) => ends.push(end),
                    None => pending += 1,
                }
            }
            let total = ends.len() + pending;
            if total < limit {
                continue;
            }
            // `total − limit + 1` of them must leave; unanswered ones cannot.
            let must_leave = total - limit + 1;
            if must_leave > ends.len() {
                return None;
            }
            ends.sort_unstable();
            at = at.max(ends[must_leave - 1]);
        }
        Some(at)
    }

    /// Reserve the earliest moment the window allows one more request (see `earliest`).
    pub fn reserve(&mut self, now: Instant) -> Option<Ticket> {
        self.forget_before(now);
        let at = self.earliest(now)?;
        let ticket = self.ticket(at);
        self.sent.push_back(Sent {
            ticket,
            answered: None,
            refused: false,
        });
        Some(ticket)
    }

    /// The request went out and came back (with whatever answer) at `at`. Returns when it
    /// counts as sent for the window: `at` less the fastest round trip seen.
    pub fn answered(&mut self, ticket: Ticket, at: Instant) -> Instant {
        let trip = at.saturating_duration_since(ticket.at);
        self.fastest = Some(self.fastest.map_or(trip, |f| f.min(trip)));
        if let Some(i) = self.position(ticket) {
            self.sent[i].answered = Some(at);
        }
        at.checked_sub(self.fastest()).unwrap_or(at).max(ticket.at)
    }

    fn fastest(&self) -> Duration {
        self.fastest.unwrap_or_default()
    }

    fn ticket(&mut self, at: Instant) -> Ticket {
        self.next_id += 1;
        Ticket {
            at,
            id: self.next_id,
        }
    }

    fn position(&self, ticket: Ticket) -> Option<usize> {
        self.sent.iter().rposition(|s| s.ticket == ticket)
    }

    /// Descope refused this request with a 429: it did not count there.
    pub fn mark_refused(&mut self, ticket: Ticket) {
        if let Some(i) = self.position(ticket) {
            self.sent[i].refused = true;
        }
    }

    /// A 429 for this request, locking us out for `retry_after`: what Descope accepted in
    /// that long before it (requests still unanswered included) is its real budget. Returns
    /// the budget learned when it is tighter than what was known.
    pub fn learn(&mut self, ticket: Ticket, retry_after: Duration) -> Option<RateBudget> {
        let i = self.position(ticket)?;
        let at = ticket.at;
        let fastest = self.fastest();
        let window = retry_after.clamp(Duration::from_secs(1), self.configured.window);
        let accepted = self
            .sent
            .range(..i)
            .filter(|s| s.in_window(window, fastest, at))
            .filter(|s| !s.refused)
            .count();
        let accepted = u32::try_from(accepted).unwrap_or(u32::MAX);
        // Nothing of ours in the window: the 429 is someone else's traffic on this address or
        // the rest of a lockout, and says nothing about the budget.
        if accepted == 0 || accepted >= self.budget().requests {
            return None;
        }
        let learned = RateBudget::new(accepted, window);
        self.learned = Some(learned);
        Some(learned)
    }

    /// Give back a reservation no request will use (a caller gave up before its turn).
    pub fn release(&mut self, ticket: Ticket) {
        if let Some(i) = self.position(ticket) {
            self.sent.remove(i);
        }
    }

    /// Earlier requests, e.g. of the previous command, answered `age` before `now` (they come
    /// before everything this window has sent).
    pub fn preload(&mut self, now: Instant, ages: impl IntoIterator<Item = Duration>) {
        let mut loaded: Vec<Instant> = ages
            .into_iter()
            .filter(|age| *age < self.configured.window)
            .filter_map(|age| now.checked_sub(age))
            .collect();
        // Newest first, each put in front: oldest ends up first.
        loaded.sort_by(|a, b| b.cmp(a));
        for at in loaded {
            let ticket = self.ticket(at);
            self.sent.push_front(Sent {
                ticket,
                answered: Some(at),
                refused: false,
            });
        }
    }

    /// Time the window alone needs to send `requests` more, from `now`: nothing while they
    /// fit, then one window per further `limit` (a lower bound, without latency or 429s).
    pub fn estimate(&mut self, now: Instant, requests: usize) -> Duration {
        let room = self.room(now);
        if requests <= room {
            return Duration::ZERO;
        }
        self.rules()
            .map(|(limit, window)| {
                let windows = (requests - room).div_ceil(limit);
                window.saturating_mul(u32::try_from(windows).unwrap_or(u32::MAX))
            })
            .max()
            .unwrap_or_default()
    }
}

/// The record of this machine's requests to one endpoint, shared by every command.
#[derive(Debug)]
pub struct Memory {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl Memory {
    /// `$XDG_CACHE_HOME/descope-mgmt`, else `~/.cache/descope-mgmt`; `None` without either.
    pub fn default_dir() -> Option<PathBuf> {
        let from = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty());
        from("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| from("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|d| d.join("descope-mgmt"))
    }

    /// The file for `base_url` in `dir`: named by a hash, so no URL reaches a file name.
    pub fn path_for(dir: &Path, base_url: &str) -> PathBuf {
        let digest = Sha256::digest(base_url.trim_end_matches('/').as_bytes());
        dir.join(format!("window-{}.log", &hex::encode(digest)[..16]))
    }

    /// Opens (creating) the record at `path` and returns the ages of the sends of the last
    /// `window`. A record that cannot be read or written costs the memory, never the command.
    pub fn open(path: PathBuf, window: Duration) -> (Memory, Vec<Duration>) {
        let now = unix_millis(SystemTime::now());
        let horizon = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let ages: Vec<Duration> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse::<u64>().ok())
            // A clock that went back leaves sends "in the future": they count as just sent.
            .map(|t| now.saturating_sub(t))
            .filter(|age| *age < horizon)
            .map(Duration::from_millis)
            .collect();
        let kept: String = ages
            .iter()
            .map(|age| format!("{}\n", now - age.as_millis() as u64))
            .collect();
        // Trimmed through a temporary file, so a concurrent reader never sees half a record.
        let written = (|| -> Result<(), String> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            }
            crate::util::atomic::write_atomic(&path, kept.as_bytes()).map_err(|e| e.to_string())?;
            Ok(())
        })();
        let file = match written {
            Ok(()) => std::fs::OpenOptions::new().append(true).open(&path).ok(),
            Err(e) => {
                tracing::warn!(
                    "cannot keep the request window in {}: {e}; commands run back to back may exceed it",
                    path.display()
                );
                None
            }
        };
        (Memory { path, file }, ages)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record one send (one short append; losing it only weakens the next command's view).
    pub fn record(&mut self, at: SystemTime) {
        if let Some(f) = &mut self.file {
            // Rounded up: a record read back as older than it is would leave the window early.
            let at = at + Duration::from_micros(999);
            let _ = f.write_all(format!("{}\n", unix_millis(at)).as_bytes());
        }
    }
}

fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(n: u32, secs: u64) -> RateBudget {
        RateBudget::new(n, Duration::from_secs(secs))
    }

    fn offsets(start: Instant, at: &[Instant]) -> Vec<u64> {
        at.iter()
            .map(|t| t.duration_since(start).as_millis() as u64)
            .collect()
    }

    #[test]
    fn the_margin_is_one_percent_and_at_least_one() {
        assert_eq!((margin(90), limit_of(90)), (1, 89));
        assert_eq!((margin(100), limit_of(100)), (1, 99));
        assert_eq!((margin(1000), limit_of(1000)), (10, 990));
        assert_eq!(limit_of(2), 1);
        assert_eq!(limit_of(1), 1, "a budget of one still sends");
    }

    /// Reserve at `now` and answer `latency` after the reserved moment.
    fn send(w: &mut Window, now: Instant, latency_ms: u64) -> Ticket {
        let t = w.reserve(now).expect("a place");
        w.answered(t, t.at + Duration::from_millis(latency_ms));
        t
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_window_bursts_then_each_waits_for_an_earlier_one_to_leave() {
        let mut w = Window::new(budget(4, 1));
        let t0 = Instant::now();
        let at: Vec<Instant> = (0..3).map(|_| send(&mut w, t0, 100).at).collect();
        assert_eq!(
            offsets(t0, &at),
            [0, 0, 0],
            "three (4 less the margin) at once"
        );
        assert_eq!(w.room(t0), 0);

        // Later requests pace at the window's rate: each the moment an earlier one leaves it.
        let t1 = t0 + Duration::from_millis(300);
        let later: Vec<Instant> = (0..4).map(|_| send(&mut w, t1, 100).at).collect();
        assert_eq!(
            offsets(t0, &later),
            [1005, 1005, 1005, 2010],
            "+ SLACK each"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unanswered_requests_hold_their_place() {
        let mut w = Window::new(budget(3, 1));
        let t0 = Instant::now();
        let a = w.reserve(t0).unwrap();
        let b = w.reserve(t0).unwrap();
        assert_eq!(w.reserve(t0), None, "two on their way: wait for an answer");
        w.answered(a, t0 + Duration::from_millis(700));
        // The only round trip seen is the fastest: `a` counts from its send.
        assert_eq!(w.reserve(t0).unwrap().at, t0 + Duration::from_millis(1005));
        // A slower answer counts from its send plus what it took beyond the fastest.
        w.answered(b, t0 + Duration::from_millis(900));
        assert_eq!(w.reserve(t0).unwrap().at, t0 + Duration::from_millis(1205));
    }

    #[tokio::test(start_paused = true)]
    async fn no_window_of_w_seconds_ever_holds_more_than_the_limit() {
        let mut w = Window::new(budget(10, 2));
        let t0 = Instant::now();
        let mut sends = Vec::new();
        // Requests arriving every 37 ms for 10 s, answered 50 ms later: far more than the budget.
        for i in 0..270u64 {
            sends.push(send(&mut w, t0 + Duration::from_millis(37 * i), 50).at);
        }
        for (i, s) in sends.iter().enumerate() {
            let in_window = sends[i..]
                .iter()
                .take_while(|t| t.duration_since(*s) < Duration::from_secs(2))
                .count();
            assert!(in_window <= 9, "{in_window} sends in the window from #{i}");
        }
        // And it is spent: nine per window of 2 s plus the 50 ms answer.
        let last = sends.last().unwrap().duration_since(t0);
        assert!(
            last > Duration::from_secs(58) && last < Duration::from_secs(61),
            "{last:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_of_the_previous_command_count_until_they_leave_the_window() {
        let mut w = Window::new(budget(4, 10));
        let now = Instant::now();
        // Answered 9 s, 2 s and 1 s ago; 20 s ago is out of the window already.
        w.preload(now, [9, 2, 1, 20].map(Duration::from_secs));
        assert_eq!(w.room(now), 0);
        let next = w.reserve(now).unwrap().at;
        assert_eq!(next.duration_since(now), Duration::from_millis(1005));
        assert_eq!(w.estimate(now, 3), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_teaches_the_budget_descope_accepted() {
        let mut w = Window::new(budget(10, 1));
        let t0 = Instant::now();
        let sent: Vec<Ticket> = (0..9).map(|_| w.reserve(t0).unwrap()).collect();
        // The server took 5; the sixth and everything after it was refused.
        for s in &sent[5..] {
            w.mark_refused(*s);
        }
        let ra = Duration::from_secs(1);
        assert_eq!(w.learn(sent[5], ra), Some(budget(5, 1)));
        // Every other 429 of the same lockout teaches nothing new: the refused ones never count.
        for s in &sent[6..] {
            assert_eq!(w.learn(*s, ra), None);
        }
        assert_eq!(w.limit(), 4);
        for s in &sent {
            w.answered(*s, t0 + Duration::from_millis(10));
        }
        // A 429 with none of ours in the window is not about our budget.
        let refused = w.reserve(t0 + Duration::from_millis(1)).unwrap();
        assert_eq!(refused.at, t0 + Duration::from_millis(1005));
        w.mark_refused(refused);
        assert_eq!(w.learn(refused, ra), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_window_learned_from_retry_after_adds_to_the_configured_one() {
        // Configured 90/60; Descope allows 10 per second and locks out for a second.
        let mut w = Window::new(budget(90, 60));
        let t0 = Instant::now();
        let sent: Vec<Ticket> = (0..12).map(|_| w.reserve(t0).unwrap()).collect();
        for s in &sent[10..] {
            w.mark_refused(*s);
        }
        assert_eq!(
            w.learn(sent[10], Duration::from_secs(1)),
            Some(budget(10, 1))
        );
        assert_eq!(w.limit(), 9);
        for s in &sent {
            w.answered(*s, t0);
        }
        // Nine a second from now on, and never more than the configured 89 a minute.
        let t1 = t0 + Duration::from_secs(1);
        let at: Vec<Instant> = (0..80).map(|_| send(&mut w, t1, 0).at).collect();
        for (i, s) in at.iter().enumerate() {
            let in_second = at[i..]
                .iter()
                .take_while(|t| t.duration_since(*s) < Duration::from_secs(1))
                .count();
            assert!(in_second <= 9, "{in_second} in the second from #{i}");
        }
        let first_minute = at
            .iter()
            .filter(|t| **t < t0 + Duration::from_secs(60))
            .count();
        assert_eq!(first_minute, 77, "89 a minute, less the first 12");
        assert!((w.rate() - 89.0 / 60.0).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn a_released_reservation_frees_its_place() {
        let mut w = Window::new(budget(2, 1));
        let t0 = Instant::now();
        assert_eq!(send(&mut w, t0, 0).at, t0);
        let second = w.reserve(t0).unwrap();
        let later = t0 + Duration::from_millis(1005);
        assert_eq!(second.at, later);
        w.release(second);
        assert_eq!(w.reserve(t0).unwrap().at, later);
        assert_eq!(w.room(later), 0);
    }

    #[test]
    fn the_memory_keeps_the_last_window_across_commands() {
        let dir = tempfile::tempdir().unwrap();
        let path = Memory::path_for(dir.path(), "http://127.0.0.1:9/");
        assert_eq!(path, Memory::path_for(dir.path(), "http://127.0.0.1:9"));
        assert!(!path.to_string_lossy().contains("127.0.0.1"));

        let window = Duration::from_secs(60);
        let (mut m, ages) = Memory::open(path.clone(), window);
        assert!(ages.is_empty());
        let now = SystemTime::now();
        m.record(now - Duration::from_secs(120));
        m.record(now - Duration::from_secs(5));
        m.record(now);
        drop(m);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"garbage\n")
            .unwrap();

        let (_m, ages) = Memory::open(path.clone(), window);
        assert_eq!(ages.len(), 2, "{ages:?}");
        assert!(ages.iter().all(|a| *a < Duration::from_secs(6)));
        // Trimmed on open: the stale send and the garbage are gone from the file.
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    }

    #[test]
    fn an_unwritable_memory_costs_only_the_memory() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let (mut m, ages) = Memory::open(blocker.join("sub").join("w.log"), Duration::from_secs(1));
        assert!(ages.is_empty());
        m.record(SystemTime::now());
    }
}
