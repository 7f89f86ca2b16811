//! The example service: axum + SQLite, shut down without losing a request.
//!
//! ```sh
//! cargo run --example service          # then press Ctrl-C, or: kill -TERM <pid>
//! curl localhost:3000/slow?ms=3000 &   # an in-flight request finishes during the drain
//! ```
//!
//! | route | |
//! |---|---|
//! | `GET /` | 200 |
//! | `GET /slow?ms=N` | 200 after N ms (it prints `slow: sleeping N ms` on stderr as it begins: the sign, for a test, that the request is in flight) |
//! | `GET /healthz` | 200 while the process runs |
//! | `GET /readyz` | 200, then 503 from the signal on (lame duck and drain) |
//! | `POST /items` | inserts a row in a transaction, returns `{"id": N}` |
//! | `GET /items/count` | `{"count": N}` |
//! | `POST /upload` | reads the body to its end (printing `upload: reading the body` on stderr as it begins), returns `{"bytes": N}`; with `?early=1`, answers `{"bytes": null}` at once, reading none of it (as a handler that turns a request away by its head does) |
//! | `GET /ws` | a WebSocket echo that says goodbye (close code 1001) at shutdown |
//! | `GET /events` | server-sent events: `tick` every 100 ms; at shutdown, a last `shutdown` event, then the stream ends |
//!
//! `PORT` sets the port (default 3000), `HOST` the address to bind (default
//! 127.0.0.1; 0.0.0.0 in a container), `DATABASE_PATH` the SQLite file
//! (default: `graceful-service/items.db` in the temp directory),
//! `GRACEFUL_TIMEOUT` and `GRACEFUL_DRAIN_DELAY` the shutdown budget and
//! lame duck, `KEEP_ALIVE_HOLD` (`500ms`, say) how long draining keeps an
//! idle keep-alive connection open for its next request. It prints
//! `listening on HOST:PORT` when it accepts. Under
//! socket activation (`examples/systemd/graceful-service.socket`, or
//! `systemd-socket-activate -l 127.0.0.1:3000 target/debug/examples/service`)
//! it serves on the socket it was passed. `kill -USR2 <pid>` upgrades it by
//! hand-off: the binary now at its path starts with the listening socket
//! inherited, and this one drains once the new one is ready
//! (`GRACEFUL_PID_FILE=<path>` always holds the PID in charge).

#[path = "sqlite/items.rs"]
mod items;

use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use graceful_rt::http::Readiness;
use graceful_rt::{Cleanup, Shutdown, graceful_main};
use http_body_util::BodyExt as _;
use serde::Deserialize;
use sqlx::sqlite::SqlitePool;

/// What the service holds, closed after the server has drained.
#[derive(Cleanup)]
struct App {
    /// Closing waits for requests still holding a connection, then
    /// checkpoints the WAL into the database file.
    #[cleanup]
    db: SqlitePool,
}

/// What the handlers share.
#[derive(Clone)]
struct Handlers {
    db: SqlitePool,
    shutdown: Shutdown,
}

#[graceful_main(timeout = "10s")]
async fn main(shutdown: Shutdown) -> Result<App, Box<dyn std::error::Error + Send + Sync>> {
    let db = items::open("graceful-service").await?;
    let handlers = Handlers {
        db: db.clone(),
        shutdown: shutdown.clone(),
    };
    let router = Router::new()
        .route("/", get(|| async { "hello from graceful\n" }))
        .route("/slow", get(slow))
        .route("/healthz", get(|| async { "ok\n" }))
        .route_service("/readyz", Readiness::new(shutdown.clone()))
        .route("/items", post(create_item))
        .route("/items/count", get(count_items))
        .route("/upload", post(upload))
        .route("/ws", get(websocket))
        .route("/events", get(events))
        .with_state(handlers);

    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |port| port.parse())?;
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    // Under systemd with examples/systemd/graceful-service.socket, the
    // socket systemd passed (HOST and PORT are then unused); bound here
    // otherwise.
    let listener = graceful_rt::listen::tcp((host.as_str(), port)).await?;
    eprintln!("listening on {}", listener.local_addr()?);
    // Under systemd (Type=notify), this is READY=1; after an upgrade, the
    // signal for the process this one takes over from to drain.
    shutdown.ready();
    let mut server = graceful_rt::http::serve(listener, router, shutdown);
    if let Ok(hold) = std::env::var("KEEP_ALIVE_HOLD") {
        server = server.keep_alive_hold(humantime::parse_duration(&hold)?);
    }
    server.await?;
    Ok(App { db })
}

#[derive(Deserialize)]
struct SlowParams {
    ms: Option<u64>,
}

async fn slow(Query(params): Query<SlowParams>) -> String {
    let ms = params.ms.unwrap_or(1000);
    eprintln!("slow: sleeping {ms} ms");
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("slept {ms} ms\n")
}

#[derive(Deserialize)]
struct UploadParams {
    early: Option<u8>,
}

/// Counts the body's bytes as they arrive (no limit: nothing is kept).
async fn upload(Query(params): Query<UploadParams>, body: Body) -> Json<serde_json::Value> {
    if params.early == Some(1) {
        return Json(serde_json::json!({ "bytes": null }));
    }
    eprintln!("upload: reading the body");
    let mut body = body;
    let mut bytes = 0usize;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => bytes += frame.data_ref().map_or(0, |data| data.len()),
            // The client went away: nobody reads the answer.
            Err(_) => break,
        }
    }
    Json(serde_json::json!({ "bytes": bytes }))
}

async fn create_item(
    State(handlers): State<Handlers>,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let id = items::insert(&handlers.db).await.map_err(internal)?;
    Ok(Json(serde_json::json!({ "id": id })))
}

async fn count_items(
    State(handlers): State<Handlers>,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let count = items::count(&handlers.db).await.map_err(internal)?;
    Ok(Json(serde_json::json!({ "count": count })))
}

fn internal(error: sqlx::Error) -> StatusCode {
    eprintln!("database error: {error}");
    StatusCode::INTERNAL_SERVER_ERROR
}

/// A WebSocket echo. At shutdown it says goodbye with close code 1001
/// ("going away"), so the client reconnects elsewhere; the drain deadline
/// would cut it otherwise.
async fn websocket(upgrade: WebSocketUpgrade, State(handlers): State<Handlers>) -> Response {
    upgrade.on_upgrade(move |socket| echo(socket, handlers.shutdown))
}

async fn echo(mut socket: WebSocket, shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = shutdown.requested() => {
                let goodbye = CloseFrame {
                    code: close_code::AWAY,
                    reason: "server is shutting down".into(),
                };
                let _ = socket.send(Message::Close(Some(goodbye))).await;
                return;
            }
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    if socket.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// A `tick` event every 100 ms, until the shutdown begins: then a last
/// `shutdown` event, and the stream ends, so the connection does not hold
/// the drain (a stream that ignored the shutdown would be cut at the drain
/// deadline).
async fn events(
    State(handlers): State<Handlers>,
) -> Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>> {
    let ticks = futures_util::stream::unfold(Some((handlers.shutdown, 0u64)), |state| async move {
        let (shutdown, tick) = state?;
        let stopping = tokio::select! {
            () = shutdown.requested() => true,
            () = tokio::time::sleep(Duration::from_millis(100)) => false,
        };
        if stopping {
            let last = Event::default()
                .event("shutdown")
                .data("server is shutting down");
            return Some((Ok(last), None));
        }
        let event = Event::default().event("tick").data(tick.to_string());
        Some((Ok(event), Some((shutdown, tick + 1))))
    });
    Sse::new(ticks)
}
