//! Both macros in a crate that renamed graceful-rt in its Cargo.toml
//! (`shutdown_kit = { package = "graceful-rt", .. }`), told where it is
//! with `crate = "shutdown_kit"`. Built by `cargo test --workspace`; its
//! test runs the derived cleanup.

use shutdown_kit::{BoxError, Cleanup, Close, Shutdown, graceful_main};

/// A resource that records its close.
#[derive(Default)]
struct Pool {
    closed: std::sync::atomic::AtomicBool,
}

impl Close for Pool {
    async fn close(&self) -> Result<(), BoxError> {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

#[derive(Cleanup, Default)]
#[cleanup(crate = "shutdown_kit")]
struct App {
    #[cleanup(timeout = "1s")]
    db: Pool,
    #[cleanup(after = "db")]
    cache: Pool,
}

#[graceful_main(timeout = "2s", crate = "shutdown_kit")]
async fn main(shutdown: Shutdown) -> App {
    shutdown.trigger();
    App::default()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    #[test]
    fn the_derived_cleanup_closes_every_field() {
        let app = App::default();
        let runtime = tokio_runtime();
        let report = runtime.block_on(app.cleanup());
        assert!(report.is_ok(), "{report:?}");
        assert!(app.db.closed.load(Ordering::SeqCst));
        assert!(app.cache.closed.load(Ordering::SeqCst));
    }

    fn tokio_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }
}
