//! The `opentelemetry` feature against an OTLP/HTTP receiver the test
//! starts on loopback: the SDK's own OTLP exporter (protobuf over HTTP, its
//! default blocking client) sends what the providers export, the receiver
//! decodes it with the OTLP messages and keeps every span name, log body
//! and counter value.
//!
//! Each provider is tagged `after` the rest of the state, as the docs
//! advise: every span ended during the drain and during the other closes
//! must arrive, on the `multi_thread` runtime (with one worker too, the
//! one-vCPU case, the cleanup running on that worker) and on the
//! `current_thread` one. With the SDK's batch processor that runs on the
//! runtime, a flush called on the runtime's only thread deadlocks
//! (opentelemetry-rust #2580, #3176); those tests hang if the close does.
//! With the receiver down, the close fails fast and names the provider;
//! with a receiver that never answers, the close is cut at its timeout
//! while the runtime keeps running, and the runtime's end does not wait.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graceful_rt::{BoxError, Cleanup, Close, CloseOutcome, CloseReport, Shutdown};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::metrics::{Counter, MeterProvider as _};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::{LogExporter, MetricExporter, Protocol, SpanExporter, WithExportConfig};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use prost::Message;

/// The counter the test increments, by name in the export.
const COUNTER: &str = "graceful.test.work";

/// What the receiver was sent, decoded.
#[derive(Default)]
struct Received {
    spans: Vec<String>,
    logs: Vec<String>,
    /// The counter's last exported (cumulative) value.
    counter: Option<i64>,
    requests: BTreeMap<String, usize>,
}

/// An OTLP/HTTP receiver on 127.0.0.1, on a thread and runtime of its own,
/// like a collector in another process: it answers whatever the runtime
/// under test is doing.
struct Receiver {
    endpoint: String,
    received: Arc<Mutex<Received>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Received::default()));
        let shared = Arc::clone(&received);
        std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(serve(listener, shared));
            })
            .unwrap();
        Receiver {
            endpoint: format!("http://{address}"),
            received,
        }
    }

    fn spans(&self) -> Vec<String> {
        let mut spans = self.received.lock().unwrap().spans.clone();
        spans.sort();
        spans
    }

    fn logs(&self) -> Vec<String> {
        let mut logs = self.received.lock().unwrap().logs.clone();
        logs.sort();
        logs
    }

    fn counter(&self) -> Option<i64> {
        self.received.lock().unwrap().counter
    }

    fn requests(&self) -> BTreeMap<String, usize> {
        self.received.lock().unwrap().requests.clone()
    }
}

async fn serve(listener: TcpListener, received: Arc<Mutex<Received>>) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let received = Arc::clone(&received);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let received = Arc::clone(&received);
                async move { Ok::<_, Infallible>(export(request, &received).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

/// Decodes one export request and answers as a collector does: 200 with an
/// empty (valid) protobuf response.
async fn export(request: Request<Incoming>, received: &Mutex<Received>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let post = request.method() == hyper::Method::POST;
    let protobuf = request
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .is_some_and(|value| value == "application/x-protobuf");
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let mut received = received.lock().unwrap();
    *received.requests.entry(path.clone()).or_default() += 1;
    let decoded = match path.as_str() {
        _ if !post || !protobuf => false,
        "/v1/traces" => ExportTraceServiceRequest::decode(body)
            .map(|export| {
                for span in export
                    .resource_spans
                    .into_iter()
                    .flat_map(|resource| resource.scope_spans)
                    .flat_map(|scope| scope.spans)
                {
                    received.spans.push(span.name);
                }
            })
            .is_ok(),
        "/v1/logs" => ExportLogsServiceRequest::decode(body)
            .map(|export| {
                for record in export
                    .resource_logs
                    .into_iter()
                    .flat_map(|resource| resource.scope_logs)
                    .flat_map(|scope| scope.log_records)
                {
                    if let Some(any_value::Value::StringValue(body)) =
                        record.body.and_then(|body| body.value)
                    {
                        received.logs.push(body);
                    }
                }
            })
            .is_ok(),
        "/v1/metrics" => ExportMetricsServiceRequest::decode(body)
            .map(|export| {
                for metric in export
                    .resource_metrics
                    .into_iter()
                    .flat_map(|resource| resource.scope_metrics)
                    .flat_map(|scope| scope.metrics)
                    .filter(|metric| metric.name == COUNTER)
                {
                    if let Some(metric::Data::Sum(sum)) = metric.data {
                        for point in sum.data_points {
                            if let Some(number_data_point::Value::AsInt(value)) = point.value {
                                received.counter = Some(value);
                            }
                        }
                    }
                }
            })
            .is_ok(),
        _ => false,
    };
    let status = if decoded { 200 } else { 400 };
    Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, "application/x-protobuf")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// The three providers, exporting OTLP/HTTP protobuf to `endpoint` with the
/// SDK's defaults: batch processors (a 5 s delay, so nothing goes out
/// before the flush unless a batch fills) and a periodic reader.
struct Telemetry {
    traces: SdkTracerProvider,
    metrics: SdkMeterProvider,
    logs: SdkLoggerProvider,
}

impl Telemetry {
    fn exporting_to(endpoint: &str) -> Telemetry {
        let spans = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{endpoint}/v1/traces"))
            .build()
            .unwrap();
        let metrics = MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{endpoint}/v1/metrics"))
            .build()
            .unwrap();
        let logs = LogExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{endpoint}/v1/logs"))
            .build()
            .unwrap();
        Telemetry {
            traces: SdkTracerProvider::builder()
                .with_batch_exporter(spans)
                .build(),
            metrics: SdkMeterProvider::builder()
                .with_reader(
                    PeriodicReader::builder(metrics)
                        .with_interval(Duration::from_secs(60))
                        .build(),
                )
                .build(),
            logs: SdkLoggerProvider::builder()
                .with_batch_exporter(logs)
                .build(),
        }
    }
}

/// What the application emits, and a record of it to compare with what
/// the receiver got.
#[derive(Clone)]
struct Emitter {
    tracer: SdkTracer,
    logger: SdkLogger,
    counter: Counter<u64>,
    spans: Arc<Mutex<Vec<String>>>,
    logs: Arc<Mutex<Vec<String>>>,
    count: Arc<AtomicU64>,
}

impl Emitter {
    fn new(telemetry: &Telemetry) -> Emitter {
        Emitter {
            tracer: telemetry.traces.tracer("graceful-test"),
            logger: telemetry.logs.logger("graceful-test"),
            counter: telemetry
                .metrics
                .meter("graceful-test")
                .u64_counter(COUNTER)
                .build(),
            spans: Arc::default(),
            logs: Arc::default(),
            count: Arc::default(),
        }
    }

    /// A span around `work`, a log record and a count when it ends.
    async fn traced<F: Future>(&self, name: String, work: F) -> F::Output {
        let mut span = self.tracer.start(name.clone());
        let output = work.await;
        span.end();
        self.spans.lock().unwrap().push(name.clone());
        let mut record = self.logger.create_log_record();
        record.set_body(AnyValue::from(name.clone()));
        self.logger.emit(record);
        self.logs.lock().unwrap().push(name);
        self.counter.add(1, &[]);
        self.count.fetch_add(1, Ordering::SeqCst);
        output
    }

    fn spans(&self) -> Vec<String> {
        let mut spans = self.spans.lock().unwrap().clone();
        spans.sort();
        spans
    }

    fn logs(&self) -> Vec<String> {
        let mut logs = self.logs.lock().unwrap().clone();
        logs.sort();
        logs
    }
}

/// A resource whose close does traced work, as a pool or a consumer would.
struct Traced {
    name: &'static str,
    steps: usize,
    emitter: Emitter,
}

impl Close for Traced {
    async fn close(&self) -> Result<(), BoxError> {
        for step in 0..self.steps {
            self.emitter
                .traced(format!("close {} {step}", self.name), async {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                })
                .await;
        }
        Ok(())
    }
}

/// Everything but the telemetry.
#[derive(Cleanup)]
struct App {
    #[cleanup]
    db: Traced,
    #[cleanup(after = "db")]
    queue: Traced,
    #[cleanup]
    cache: Traced,
}

/// The pattern the docs show: the providers after everything else.
#[derive(Cleanup)]
struct State {
    #[cleanup]
    app: App,
    #[cleanup(after = "app", timeout = "20s")]
    traces: SdkTracerProvider,
    #[cleanup(after = "app", timeout = "20s")]
    metrics: SdkMeterProvider,
    #[cleanup(after = "app", timeout = "20s")]
    logs: SdkLoggerProvider,
}

impl State {
    fn new(telemetry: Telemetry, emitter: &Emitter) -> State {
        let traced = |name, steps| Traced {
            name,
            steps,
            emitter: emitter.clone(),
        };
        State {
            app: App {
                db: traced("db", 10),
                queue: traced("queue", 10),
                cache: traced("cache", 5),
            },
            traces: telemetry.traces,
            metrics: telemetry.metrics,
            logs: telemetry.logs,
        }
    }
}

/// A server's drain, simulated: workers serve traced requests until the
/// shutdown, then finish the request in flight, each ending more spans.
async fn serve_then_drain(emitter: &Emitter) {
    let shutdown = Shutdown::new(Duration::from_secs(30));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let emitter = emitter.clone();
        let shutdown = shutdown.clone();
        workers.push(tokio::spawn(async move {
            let mut request = 0;
            while !shutdown.is_requested() {
                emitter
                    .traced(format!("request {worker}-{request}"), async {
                        tokio::time::sleep(Duration::from_millis(3)).await;
                    })
                    .await;
                request += 1;
            }
            // The drain: what was accepted is finished, and traced.
            emitter
                .traced(format!("drain {worker}"), async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                })
                .await;
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    shutdown.trigger();
    for worker in workers {
        worker.await.unwrap();
    }
}

fn close<'r>(report: &'r graceful_rt::CleanupReport, name: &str) -> &'r CloseReport {
    report
        .get(name)
        .unwrap_or_else(|| panic!("no close named {name} in {report:?}"))
}

/// Runs the cleanup in the test's task, or in a task of its own: on a
/// worker thread of a `multi_thread` runtime rather than on the thread that
/// blocks on the test.
async fn cleanup<S: Cleanup + Send + 'static>(
    state: S,
    on_a_worker: bool,
) -> graceful_rt::CleanupReport {
    if on_a_worker {
        tokio::spawn(async move { state.cleanup().await })
            .await
            .unwrap()
    } else {
        state.cleanup().await
    }
}

/// The whole path: serve, drain, clean up; then every span, log record and
/// count must be at the receiver.
async fn everything_emitted_arrives(on_a_worker: bool) {
    let receiver = Receiver::start();
    let telemetry = Telemetry::exporting_to(&receiver.endpoint);
    let emitter = Emitter::new(&telemetry);
    let state = State::new(telemetry, &emitter);

    serve_then_drain(&emitter).await;
    let drained = emitter.spans().len();
    let report = cleanup(state, on_a_worker).await;

    assert!(report.is_ok(), "{report:?}");
    // The providers started only once every close of the app had ended.
    let app_ended = report
        .closes()
        .iter()
        .filter(|close| close.name().starts_with("app."))
        .map(|close| close.started() + close.duration())
        .max()
        .unwrap();
    for provider in ["traces", "metrics", "logs"] {
        assert!(close(&report, provider).outcome().is_closed(), "{report:?}");
        assert!(
            close(&report, provider).started() >= app_ended,
            "{report:?}"
        );
    }

    let emitted = emitter.spans();
    // 8 drained requests and at least one served by each worker, then
    // 10 + 10 + 5 spans of the closes.
    assert!(drained >= 16, "{drained} spans during the drain");
    assert_eq!(emitted.len(), drained + 25);
    assert_eq!(
        receiver.spans(),
        emitted,
        "spans lost or duplicated (requests: {:?})",
        receiver.requests()
    );
    assert_eq!(receiver.logs(), emitter.logs());
    let count = emitter.count.load(Ordering::SeqCst);
    assert_eq!(receiver.counter(), Some(i64::try_from(count).unwrap()));
    eprintln!(
        "{} spans, {} log records, count {count}: all received; requests {:?}; cleanup {:?}",
        emitted.len(),
        emitter.logs().len(),
        receiver.requests(),
        report.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_span_arrives_on_the_multi_thread_runtime() {
    everything_emitted_arrives(false).await;
}

/// One worker, a one-vCPU container's default, and the cleanup on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn every_span_arrives_on_a_single_worker_multi_thread_runtime() {
    everything_emitted_arrives(true).await;
}

#[tokio::test(flavor = "current_thread")]
async fn every_span_arrives_on_the_current_thread_runtime() {
    everything_emitted_arrives(false).await;
}

/// An address where nothing listens: connections are refused.
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

async fn a_collector_that_is_down_fails_the_close_fast() {
    let telemetry = Telemetry::exporting_to(&closed_port());
    let emitter = Emitter::new(&telemetry);
    let state = State::new(telemetry, &emitter);
    serve_then_drain(&emitter).await;
    let report = state.cleanup().await;

    for name in ["app.db", "app.queue", "app.cache"] {
        assert!(close(&report, name).outcome().is_closed(), "{report:?}");
    }
    for (provider, what) in [
        ("traces", "tracer provider"),
        ("metrics", "meter provider"),
        ("logs", "logger provider"),
    ] {
        let close = close(&report, provider);
        let (CloseOutcome::Failed(_), Some(message)) = (close.outcome(), close.outcome().message())
        else {
            panic!("{provider} did not fail: {report:?}");
        };
        eprintln!("{provider}: {message} (after {:?})", close.duration());
        assert!(
            message.starts_with(&format!("OpenTelemetry {what}: force_flush failed")),
            "{message}"
        );
        // Then the SDK's own words: the batch processors pass on the
        // exporter's error, the periodic reader says only that it failed.
        if provider != "metrics" {
            assert!(
                message.contains("HTTP export failed: network error"),
                "{message}"
            );
        }
        // Its retries (3, backing off from 100 ms) take about a second; the
        // close's timeout is 20 s.
        assert!(
            close.duration() < Duration::from_secs(8),
            "{provider} took {:?}",
            close.duration()
        );
    }
    let error = report.into_result().unwrap_err().to_string();
    assert!(
        error.starts_with("`traces` failed: OpenTelemetry tracer provider"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_fails_the_close_fast_on_the_multi_thread_runtime() {
    a_collector_that_is_down_fails_the_close_fast().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_collector_that_is_down_fails_the_close_fast_on_the_current_thread_runtime() {
    a_collector_that_is_down_fails_the_close_fast().await;
}

/// A collector that accepts connections and never answers: the exporter
/// waits for its timeout (30 s here), the SDK's flush for its own (5 s).
fn silent_collector() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    std::thread::Builder::new()
        .name("silent-collector".into())
        .spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                held.push(stream);
            }
        })
        .unwrap();
    format!("http://{address}")
}

#[derive(Cleanup)]
struct Hung {
    #[cleanup]
    db: Traced,
    #[cleanup(after = "db", timeout = "300ms")]
    traces: SdkTracerProvider,
}

/// The cleanup of a provider whose collector never answers, on a
/// `current_thread` runtime: what the report says, how long it took, and
/// how often a task on the same runtime ticked meanwhile.
async fn cleanup_with_a_silent_collector() -> (graceful_rt::CleanupReport, Duration, u64) {
    let endpoint = silent_collector();
    let spans = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{endpoint}/v1/traces"))
        .with_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let traces = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .build();
    let telemetry = Telemetry {
        traces: traces.clone(),
        metrics: SdkMeterProvider::builder().build(),
        logs: SdkLoggerProvider::builder().build(),
    };
    let emitter = Emitter::new(&telemetry);
    let state = Hung {
        db: Traced {
            name: "db",
            steps: 3,
            emitter: emitter.clone(),
        },
        traces,
    };

    // The one runtime thread must stay free while the provider's close
    // waits: a task on it keeps ticking.
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = tokio::spawn({
        let ticks = Arc::clone(&ticks);
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let started = Instant::now();
    let report = state.cleanup().await;
    let took = started.elapsed();
    ticker.abort();
    (report, took, ticks.load(Ordering::SeqCst))
}

/// The runtime is built by hand, so the test also times its end: a
/// runtime that is dropped waits for its `spawn_blocking` tasks, and would
/// wait here for the SDK's flush and shutdown timeouts (5 s each).
#[test]
fn a_hanging_shutdown_is_cut_at_the_timeout_and_blocks_neither_the_runtime_nor_its_end() {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (report, took, ticks) = runtime.block_on(cleanup_with_a_silent_collector());
    drop(runtime);
    let ended = started.elapsed();

    assert!(close(&report, "db").outcome().is_closed(), "{report:?}");
    let traces = close(&report, "traces");
    assert!(
        matches!(traces.outcome(), CloseOutcome::TimedOut),
        "{report:?}"
    );
    assert_eq!(traces.notes(), ["cut at its timeout of 300ms"]);
    assert!(traces.duration() >= Duration::from_millis(300));
    // Cut at 300 ms, not at the SDK's 5 s flush timeout.
    assert!(took < Duration::from_secs(3), "the cleanup took {took:?}");
    // About 30 ticks of 10 ms in 300 ms; none at all if the thread blocked.
    assert!(
        ticks >= 10,
        "the runtime ticked {ticks} times in {took:?}: it was blocked"
    );
    // The SDK is still waiting for the silent collector, on the close's
    // detached thread: the runtime's end does not wait for it.
    assert!(
        ended < Duration::from_secs(4),
        "the runtime ended after {ended:?}"
    );
}

/// The SDK's other batch processor: its worker is a task on the tokio
/// runtime, and its `force_flush` and `shutdown` block the calling thread
/// until that task answers. Called on the only thread of a `current_thread`
/// runtime, they wait forever for a task that thread would have to run
/// (opentelemetry-rust #2580, #3176). It exports with the async reqwest
/// client, on the runtime too.
#[derive(Cleanup)]
struct OnTheRuntime {
    #[cleanup]
    db: Traced,
    #[cleanup(after = "db", timeout = "20s")]
    traces: SdkTracerProvider,
}

async fn the_runtime_batch_processor_exports_everything(on_a_worker: bool) {
    use opentelemetry_otlp::WithHttpConfig;
    use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;

    let receiver = Receiver::start();
    let spans = SpanExporter::builder()
        .with_http()
        .with_http_client(reqwest::Client::new())
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", receiver.endpoint))
        .build()
        .unwrap();
    let traces = SdkTracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::builder(spans, opentelemetry_sdk::runtime::Tokio).build(),
        )
        .build();
    let telemetry = Telemetry {
        traces: traces.clone(),
        metrics: SdkMeterProvider::builder().build(),
        logs: SdkLoggerProvider::builder().build(),
    };
    let emitter = Emitter::new(&telemetry);
    let state = OnTheRuntime {
        db: Traced {
            name: "db",
            steps: 10,
            emitter: emitter.clone(),
        },
        traces,
    };

    serve_then_drain(&emitter).await;
    let report = cleanup(state, on_a_worker).await;

    assert!(report.is_ok(), "{report:?}");
    let emitted = emitter.spans();
    assert!(emitted.len() >= 16 + 10, "{} spans", emitted.len());
    assert_eq!(
        receiver.spans(),
        emitted,
        "requests: {:?}",
        receiver.requests()
    );
    eprintln!(
        "{} spans through the runtime's batch processor, all received; cleanup {:?}",
        emitted.len(),
        report.elapsed()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_runtime_batch_processor_does_not_deadlock_on_the_current_thread_runtime() {
    the_runtime_batch_processor_exports_everything(false).await;
}

/// The cleanup on the only worker, which the processor's task needs too.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_runtime_batch_processor_does_not_deadlock_on_a_single_worker() {
    the_runtime_batch_processor_exports_everything(true).await;
}
