// Everything `axum::serve` takes, `http::serve` takes: moving to it
// changes one line.
use std::net::SocketAddr;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use graceful_rt::Shutdown;
use graceful_rt::http::serve;

fn app() -> Router {
    Router::new().route(
        "/",
        get(|ConnectInfo(client): ConnectInfo<SocketAddr>| async move { client.to_string() }),
    )
}

#[allow(dead_code)]
async fn every_form(shutdown: Shutdown) -> std::io::Result<()> {
    let tcp = || tokio::net::TcpListener::bind("127.0.0.1:0");
    serve(tcp().await?, app(), shutdown.clone()).await?;
    serve(tcp().await?, get(|| async { "hi" }), shutdown.clone()).await?;
    serve(tcp().await?, app().into_make_service(), shutdown.clone()).await?;
    let with_addr = app().into_make_service_with_connect_info::<SocketAddr>();
    serve(tcp().await?, with_addr, shutdown.clone()).await?;
    let tapped = tcp().await?.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    let with_addr = app().into_make_service_with_connect_info::<SocketAddr>();
    serve(tapped, with_addr, shutdown.clone()).await?;
    let unix = graceful_rt::listen::unix("/tmp/graceful-ui.sock")?;
    let with_addr = Router::new()
        .route("/", get(|| async { "hi" }))
        .into_make_service_with_connect_info::<tokio::net::unix::SocketAddr>();
    serve(unix, with_addr, shutdown).await?;
    Ok(())
}

fn main() {}
