//! One request's way through the emulator: latency, the rate limit, auth, faults, the endpoint
//! and persistence, in that order, reporting each request to the observer and the hook.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body as AxumBody;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::rngs::StdRng;
use serde_json::Value;

use super::data::ProjectData;
use super::error::ApiError;
use super::faults::{self, Faults};
use super::fields::{query_pairs, Body};
use super::limiter::Limiter;
use super::observe::{lock, HookPhase, LogEntry, Observer};
use super::ops::{self, Ctx, Input};
use super::persist;
use super::server::Conn;

/// Flow documents can be large; Descope's own limit is unknown.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// What every request task shares with the `Emulator` handle.
pub struct Shared {
    pub project_id: String,
    pub management_key: String,
    pub latency: Duration,
    pub omit_defaults: bool,
    pub strict: bool,
    /// `--state FILE`: the project file and its write log.
    pub store: Mutex<Option<persist::Store>>,
    pub rate: Option<crate::RateBudget>,
    pub data: Mutex<ProjectData>,
    /// Ids come from their own RNG so creating resources does not shift the fault sequence.
    pub ids: Mutex<StdRng>,
    pub dice: Mutex<StdRng>,
    pub faults: Mutex<Faults>,
    pub limiters: Mutex<HashMap<IpAddr, Limiter>>,
    pub obs: Observer,
}

impl Shared {
    /// Records a committed write (`before` → `after`) before it is answered.
    pub fn persist(&self, before: &ProjectData, after: &ProjectData) {
        if let Some(store) = lock(&self.store).as_mut() {
            if let Err(e) = store.record(before, after) {
                tracing::error!("emulator could not save its state: {e}");
            }
        }
    }

    /// Saves the whole project (after a change made outside a request).
    pub fn persist_all(&self, data: &ProjectData) {
        if let Some(store) = lock(&self.store).as_mut() {
            if let Err(e) = store.rewrite(data) {
                tracing::error!("emulator could not save its state: {e}");
            }
        }
    }
}

/// How a request ended, before it becomes a response.
struct Answer {
    status: StatusCode,
    body: Value,
    outcome: String,
    retry_after: Option<u64>,
}

impl Answer {
    fn error(e: &ApiError, outcome: impl Into<String>) -> Self {
        Answer {
            status: e.status,
            body: e.body(),
            outcome: outcome.into(),
            retry_after: None,
        }
    }
}

pub async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let conn = parts.extensions.get::<Conn>().cloned();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let seq = shared.obs.next_seq();
    shared
        .obs
        .fire(HookPhase::BeforeHandling, seq, &method, &path);
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }

    let answer = match admit(&shared, conn.as_ref()) {
        Err(answer) => answer,
        Ok(()) => handle(&shared, &parts, body, seq).await,
    };
    let answer = match answer {
        Handled::Answer(a) => a,
        Handled::Drop => {
            shared.obs.record(LogEntry {
                seq,
                method,
                path,
                status: 0,
                outcome: "fault: dropped after commit".into(),
            });
            if let Some(conn) = conn {
                conn.kill.notify_one();
                // The connection task drops this future together with the socket.
                std::future::pending::<()>().await;
            }
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };

    shared.obs.record(LogEntry {
        seq,
        method,
        path,
        status: answer.status.as_u16(),
        outcome: answer.outcome,
    });
    let mut response = (answer.status, Json(answer.body)).into_response();
    if let Some(secs) = answer.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

enum Handled {
    Answer(Answer),
    Drop,
}

/// The gate in front of every endpoint: the limiter (per client IP, like Descope's edge) counts
/// requests whether or not they would authenticate.
fn admit(shared: &Shared, conn: Option<&Conn>) -> Result<(), Handled> {
    let Some(rate) = shared.rate else {
        return Ok(());
    };
    let ip = conn.map_or(IpAddr::from([127, 0, 0, 1]), |c| c.peer.ip());
    let verdict = lock(&shared.limiters)
        .entry(ip)
        .or_insert_with(|| Limiter::new(rate.requests, rate.window))
        .admit(Instant::now());
    verdict.map_err(|secs| {
        let mut a = Answer::error(&ApiError::rate_limited(), "rate-limited");
        a.retry_after = Some(secs);
        Handled::Answer(a)
    })
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(credentials) = value.strip_prefix("Bearer ") else {
        return false;
    };
    match credentials.split_once(':') {
        Some((project, key)) => project == shared.project_id && key == shared.management_key,
        None => false,
    }
}

async fn handle(
    shared: &Shared,
    parts: &axum::http::request::Parts,
    body: AxumBody,
    seq: u64,
) -> Handled {
    let mut query = query_pairs(parts.uri.query());
    let path = match ops::path_key(&parts.method, parts.uri.path()) {
        Some((path, pair)) => {
            query.extend(query_pairs(Some(&pair)));
            path
        }
        None => parts.uri.path(),
    };
    if !authorized(shared, &parts.headers) {
        return Handled::Answer(Answer::error(&ApiError::unauthorized(), "unauthorized"));
    }
    let Some(route) = ops::route(&parts.method, path) else {
        let e = ApiError::not_found(format!("No endpoint {} {path}", parts.method));
        return Handled::Answer(Answer::error(&e, "unknown endpoint"));
    };
    let faults = lock(&shared.faults).clone();
    let faulty = !route.license || faults.include_license;
    if faulty && faults::roll(&mut lock(&shared.dice), faults.fail_rate) {
        return Handled::Answer(Answer::error(
            &ApiError::unavailable(),
            "fault: fail before",
        ));
    }

    // GET parameters travel in the query; a body there is ignored, as HTTP servers do.
    let body = if parts.method == axum::http::Method::GET {
        AxumBody::empty()
    } else {
        body
    };
    let result = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Err(e) => Err(ApiError::bad_json(format!("Unreadable request body: {e}"))),
        Ok(bytes) => match Body::parse(&bytes) {
            Err(e) => Err(e),
            Ok(body) => run(shared, route, Input { body, query }),
        },
    };
    let (mut answer, committed) = match result {
        Ok(value) => {
            let outcome = if route.write { "committed" } else { "ok" };
            (
                Answer {
                    status: StatusCode::OK,
                    body: value,
                    outcome: outcome.into(),
                    retry_after: None,
                },
                route.write,
            )
        }
        Err(e) => {
            let outcome = format!("error {}", e.code);
            (Answer::error(&e, outcome), false)
        }
    };

    if committed {
        shared.obs.committed(path);
        shared
            .obs
            .fire(HookPhase::AfterCommit, seq, parts.method.as_str(), path);
        let mut dice = lock(&shared.dice);
        if faulty && faults::roll(&mut dice, faults.fail_after_commit_rate) {
            if faults::drops(&mut dice, faults.after_commit) {
                return Handled::Drop;
            }
            answer = Answer::error(
                &ApiError::internal_after_commit(),
                "fault: 500 after commit",
            );
        }
    }
    let slow = faulty && faults::roll(&mut lock(&shared.dice), faults.slow_rate);
    if slow {
        answer.outcome.push_str(", slow");
        tokio::time::sleep(faults.slow_by).await;
    }
    Handled::Answer(answer)
}

/// Writes run on a draft that replaces the data only on success, so a failing batch leaves
/// nothing behind (batches are one transaction).
fn run(shared: &Shared, route: ops::Route, input: Input) -> Result<Value, ApiError> {
    let mut data = lock(&shared.data);
    let mut ids = lock(&shared.ids);
    let mut ctx = Ctx {
        now: now_seconds(),
        strict: shared.strict,
        omit_defaults: shared.omit_defaults,
        rng: &mut ids,
    };
    if !route.write {
        return (route.handler)(&mut data, &mut ctx, &input);
    }
    let mut draft = data.clone();
    let value = (route.handler)(&mut draft, &mut ctx, &input)?;
    shared.persist(&data, &draft);
    *data = draft;
    Ok(value)
}

pub fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
