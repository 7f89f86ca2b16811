//! A Windows service: HTTP on 127.0.0.1, drained when the Service Control
//! Manager stops it, with a journal flushed at the end.
//!
//! ```text
//! cargo build --release --target x86_64-pc-windows-gnu -p graceful-windows-service
//! sc.exe create graceful-example binPath= "C:\services\windows-service.exe C:\services\service.log"
//! sc.exe start graceful-example
//! curl http://127.0.0.1:8088/slow?ms=3000     # then, at once:
//! sc.exe stop graceful-example                 # the slow request is answered first
//! sc.exe query graceful-example                # STOP_PENDING, its CHECKPOINT and WAIT_HINT; then STOPPED
//! sc.exe delete graceful-example
//! ```
//!
//! | route | |
//! |---|---|
//! | `GET /` | 200, `hello from a Windows service` |
//! | `GET /slow?ms=N` | 200 after N ms (default 1000) |
//!
//! Arguments: the log file (default `windows-service.log` beside the
//! executable) and the port (default 8088; 0 picks one). The SCM gives a
//! service no console, so the log goes to that file: `listening on
//! ADDRESS` once it accepts, then graceful-rt's lines. Those written before
//! `main` runs (a warning about the preshutdown timeout, say) go to stderr,
//! which a service does not have: start the executable from a console once
//! to read them. Started from a console, it is a console program, stopped
//! by Ctrl-C.
//!
//! With the feature `windows-service`, graceful-rt connects to the SCM
//! on a thread of its own, started before `main` (which does not wait for
//! it): `SERVICE_RUNNING` at start; `Stop`, `Shutdown` and
//! `Preshutdown` start the shutdown; `SERVICE_STOP_PENDING` with a rising
//! checkpoint and a wait hint covering the time left; `SERVICE_STOPPED`
//! with the exit code. tests/windows.rs runs this under Wine, through
//! Wine's SCM, with `scm` (src/bin/scm.rs) on the SCM's side.

#[cfg(windows)]
mod service {
    use std::path::PathBuf;
    use std::sync::Mutex;
    use std::time::Duration;

    use axum::Router;
    use axum::extract::Query;
    use axum::routing::get;
    use graceful_rt::{BoxError, Cleanup, Close, Shutdown, graceful_main};
    use serde::Deserialize;
    use tokio::net::TcpListener;

    /// Lines kept in memory, written to a file of their own (the log's
    /// name, `.journal`) at the end: a stand-in for a client that buffers
    /// (metrics, an audit trail).
    struct Journal {
        lines: Mutex<Vec<String>>,
        path: PathBuf,
    }

    impl Close for Journal {
        async fn close(&self) -> Result<(), BoxError> {
            let lines = std::mem::take(&mut *self.lines.lock().unwrap());
            let mut text = String::new();
            for line in &lines {
                text.push_str(line);
                text.push('\n');
            }
            text.push_str(&format!("journal flushed: {} lines\n", lines.len()));
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut file = tokio::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&self.path)
                .await?;
            tokio::io::AsyncWriteExt::write_all(&mut file, text.as_bytes()).await?;
            Ok(())
        }
    }

    #[derive(Cleanup)]
    struct State {
        #[cleanup]
        journal: Journal,
    }

    #[derive(Deserialize)]
    struct SlowParams {
        ms: Option<u64>,
    }

    #[graceful_main(timeout = "5s")]
    pub(crate) async fn main(shutdown: Shutdown) -> std::io::Result<State> {
        let mut args = std::env::args_os().skip(1);
        let log = args.next().map_or_else(
            || {
                let exe = std::env::current_exe().unwrap_or_default();
                exe.with_file_name("windows-service.log")
            },
            PathBuf::from,
        );
        let port: u16 = args
            .next()
            .and_then(|port| port.to_str()?.parse().ok())
            .unwrap_or(8088);
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&log)?;
        tracing_subscriber::fmt()
            .with_writer(Mutex::new(file))
            .with_ansi(false)
            .init();
        let app = Router::new()
            .route("/", get(|| async { "hello from a Windows service\n" }))
            .route(
                "/slow",
                get(|Query(params): Query<SlowParams>| async move {
                    let ms = params.ms.unwrap_or(1000);
                    tracing::info!("slow request: sleeping {ms} ms");
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    format!("slept {ms} ms\n")
                }),
            );
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let address = listener.local_addr()?;
        let journal = Journal {
            lines: Mutex::new(vec![format!("served on {address}")]),
            path: log.with_extension("journal"),
        };
        tracing::info!("listening on {address}");
        shutdown.ready();
        graceful_rt::http::serve(listener, app, shutdown).await?;
        Ok(State { journal })
    }
}

#[cfg(windows)]
fn main() {
    service::main()
}

#[cfg(not(windows))]
fn main() {
    eprintln!(
        "a Windows service: build it with --target x86_64-pc-windows-gnu (tests/windows.rs runs it under Wine)"
    );
    std::process::exit(2);
}
