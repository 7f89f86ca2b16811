//! HTTP over a Unix socket, as a sidecar proxy or a local agent speaks it,
//! drained like TCP; handlers see the peer's credentials.
//!
//! ```sh
//! cargo run --example unix             # then press Ctrl-C, or: kill -TERM <pid>
//! curl --unix-socket /tmp/graceful-unix.sock localhost/
//! curl --unix-socket /tmp/graceful-unix.sock 'localhost/slow?ms=3000' &   # finishes during the drain
//! ```
//!
//! | route | |
//! |---|---|
//! | `GET /` | 200, `hello, uid N` (the peer's user id) |
//! | `GET /slow?ms=N` | 200 after N ms (default 1000) |
//!
//! `SOCKET_PATH` sets the socket file (default: `graceful-unix.sock` in the
//! temp directory). A stale file left by an earlier run is replaced; one
//! another instance still serves on is not, and the start fails. The file
//! stays when the process exits (see `graceful_rt::listen::unix`). It prints
//! `listening on PATH` when it accepts.

use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Query};
use axum::routing::get;
use graceful_rt::http::IncomingStream;
use graceful_rt::{Shutdown, graceful_main};
use serde::Deserialize;
use tokio::net::UnixListener;

/// What a handler knows of its client: the credentials of the process at
/// the other end of the socket.
#[derive(Clone, Debug)]
struct Peer {
    uid: Option<u32>,
}

impl Connected<IncomingStream<'_, UnixListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, UnixListener>) -> Peer {
        Peer {
            uid: stream.io().peer_cred().ok().map(|cred| cred.uid()),
        }
    }
}

#[derive(Deserialize)]
struct SlowParams {
    ms: Option<u64>,
}

#[graceful_main(timeout = "10s")]
async fn main(shutdown: Shutdown) -> std::io::Result<()> {
    let path = std::env::var_os("SOCKET_PATH").map_or_else(
        || std::env::temp_dir().join("graceful-unix.sock"),
        PathBuf::from,
    );
    let app = Router::new()
        .route(
            "/",
            get(|ConnectInfo(peer): ConnectInfo<Peer>| async move {
                match peer.uid {
                    Some(uid) => format!("hello, uid {uid}\n"),
                    None => "hello, unknown peer\n".to_owned(),
                }
            }),
        )
        .route(
            "/slow",
            get(|Query(params): Query<SlowParams>| async move {
                let ms = params.ms.unwrap_or(1000);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                format!("slept {ms} ms\n")
            }),
        );
    let listener = graceful_rt::listen::unix(&path)?;
    eprintln!("listening on {}", path.display());
    shutdown.ready();
    let app = app.into_make_service_with_connect_info::<Peer>();
    graceful_rt::http::serve(listener, app, shutdown).await?;
    Ok(())
}
