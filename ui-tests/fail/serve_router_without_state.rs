// A `Router` whose handlers need state, served before it has it: the
// classic axum mistake, named with what to write instead.
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use graceful_rt::{Shutdown, graceful_main};

#[derive(Clone)]
struct AppState {
    greeting: &'static str,
}

#[graceful_main(timeout = "5s")]
async fn main(shutdown: Shutdown) -> std::io::Result<()> {
    let app: Router<AppState> =
        Router::new().route("/", get(|State(state): State<AppState>| async move { state.greeting }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    graceful_rt::http::serve(listener, app, shutdown).await?;
    Ok(())
}
