// Accepted: a `tokio::sync::Mutex` around an async writer is `Close`: it is flushed and shut down.
use graceful_rt::Cleanup;
use tokio::io::AsyncWriteExt as _;

#[derive(Cleanup)]
struct App {
    #[cleanup]
    log: tokio::sync::Mutex<tokio::io::BufWriter<Vec<u8>>>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut writer = tokio::io::BufWriter::new(Vec::new());
    writer.write_all(b"buffered\n").await.unwrap();
    assert!(
        writer.get_ref().is_empty(),
        "the line is still in the buffer"
    );
    let app = App {
        log: tokio::sync::Mutex::new(writer),
    };
    let report = app.cleanup().await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(app.log.lock().await.get_ref().as_slice(), b"buffered\n");
}
