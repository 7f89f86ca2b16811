// A tower service that is not a `Router`: `serve`, like `axum::serve`,
// wants it as a make-service.
use axum::Router;
use axum::routing::get;
use graceful_rt::{Shutdown, graceful_main};

#[graceful_main(timeout = "5s")]
async fn main(shutdown: Shutdown) -> std::io::Result<()> {
    let service = Router::new()
        .route("/", get(|| async { "hello" }))
        .into_service::<axum::body::Body>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    graceful_rt::http::serve(listener, service, shutdown).await?;
    Ok(())
}
