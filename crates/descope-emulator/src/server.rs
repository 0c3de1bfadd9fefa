//! The accept loop. Our own rather than axum::serve, so the dispatcher can drop one connection
//! without answering (the after-commit "dropped connection" fault), which axum::serve cannot do.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::pipeline::{dispatch, Shared};

/// Per connection, so the dispatcher can drop exactly this connection.
#[derive(Clone)]
pub struct Conn {
    pub peer: SocketAddr,
    pub kill: Arc<Notify>,
}

pub async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let router = Router::new().fallback(dispatch).with_state(shared);
    // Dropping the set aborts every open connection, so shutdown leaves nothing behind.
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    conns.spawn(connection(stream, peer, router.clone()));
                }
                // Out of descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, router: Router) {
    let kill = Arc::new(Notify::new());
    let conn = Conn {
        peer,
        kill: kill.clone(),
    };
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(conn.clone());
        router.clone().oneshot(req)
    });
    let http =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = http => {}
        _ = kill.notified() => {}
    }
}
