//! Feature `rdkafka`: `Close` for rdkafka's consumers, `StreamConsumer` and
//! `BaseConsumer`, shared in an `Arc`.
//!
//! librdkafka's consumer close blocks its caller: it leaves the group,
//! serving the rebalance that revokes the partitions, and waits for the
//! coordinator's answers. With the broker gone, that is
//! `session.timeout.ms` at best and forever at worst (rust-rdkafka issues
//! #509 and #611: a `StreamConsumer` whose drop never returns). rdkafka
//! runs that close in the consumer's `Drop`, wherever the last reference
//! happens to be dropped, so a service that drops its consumer on a
//! runtime thread, or at the end of `main`, can hang its exit. The close
//! here runs every blocking call on a thread of its own, awaited through
//! a channel, as the `opentelemetry` closes do: the cleanup cuts it at its
//! timeout, the report names it, and the thread left behind holds a
//! reference, so no drop elsewhere closes the consumer again.

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::cleanup::detached::{self, NoAnswer};
use crate::{BoxError, Close};

/// How long the close's thread waits, once it has answered, for the other
/// references to go (the state's own, dropped right after the cleanup), so
/// that the last drop, and librdkafka's `rd_kafka_destroy` in it, happen
/// on that thread rather than on the runtime.
const LAST_REFERENCE: Duration = Duration::from_secs(1);

/// Commits the offsets the application stored, synchronously, then closes
/// the consumer (leaving its group), on a thread of its own, never on a
/// runtime thread. The consumer is shared, in an `Arc`, between the loop
/// that reads it, the tasks that store their messages' offsets and the
/// state `main` returns.
///
/// In order, on that thread:
///
/// 1. a consumer that librdkafka has marked failed (`fatal_error`) is
///    not committed for: the close fails with librdkafka's reason, once
///    step 4 is done;
/// 2. the assigned partitions are paused: fetching stops, and what was
///    fetched but never handed to the application is dropped, not
///    delivered, so the close cannot store an offset the application
///    never processed;
/// 3. the stored offsets are committed, `commit_consumer_state`
///    (`CommitMode::Sync`): the close waits for the group coordinator's
///    answer. Nothing stored since the last commit is not an error;
/// 4. the consumer is closed, `rd_kafka_consumer_close`: the partitions
///    are revoked (a rebalance during the close is served by librdkafka's
///    own unassign: the `ConsumerContext`'s rebalance hooks are not
///    called), the member leaves the group (not with `group.instance.id`:
///    a static member keeps its partitions until `session.timeout.ms`, for
///    the same instance to take them back), and the coordinator's answer is
///    awaited.
///
/// The close returns `Ok` once both the commit and the close have
/// succeeded. A consumer already closed closes again at once, `Ok`.
///
/// # What it guarantees, and what it does not
///
/// Kafka delivers **at least once**: a partition's next owner starts at
/// the group's committed offset. With `enable.auto.offset.store=false`, and
/// each message's offset stored once its job is done (in order within its
/// partition: a message's offset is stored only once every earlier one in
/// the partition is done, `examples/kafka_consumer.rs`), a clean stop
/// commits exactly what was processed: the next owner redoes nothing and
/// skips nothing (`tests/consumers.rs`: 1,000 messages, SIGTERM half-way,
/// a second consumer takes over; 0 missing, 0 duplicated). What it does not
/// cover:
///
/// - a crash (SIGKILL, an OOM kill) redoes what was processed since the
///   last commit (`auto.commit.interval.ms`, 5 s by default);
/// - a rebalance while handlers are still running hands their partitions
///   to another member before their offsets are stored: those messages are
///   done twice. A rolling restart without one needs static membership
///   (below);
/// - a close cut at its timeout (a broker gone, a coordinator that does not
///   answer) may not have committed: the next owner redoes what was
///   processed since the last commit that did succeed;
/// - **exactly-once effects need an idempotent key** (a unique key on the
///   message's id, `INSERT ... ON CONFLICT DO NOTHING`), or the effect and
///   the offset in one transaction. Kafka's own transactions cover
///   Kafka-to-Kafka pipelines, not your database.
///
/// Tag the consumer `after` the tasks that process its messages (their
/// `TaskTracker`), so every offset is stored before the commit, and stop
/// reading (`recv`) when the shutdown is requested.
///
/// # Bounded, never hanging the exit
///
/// librdkafka bounds the commit only by its own timeouts (a commit waiting
/// for a coordinator fails after `session.timeout.ms`, 45 s by default; one
/// sent, after `socket.timeout.ms`, 60 s) and the close by nothing. The
/// cleanup cuts the close at its `timeout` or at the shutdown deadline,
/// whichever comes first: a broker that is gone costs that timeout, the
/// report names the consumer as timed out, and the thread is left behind,
/// holding its reference, so the state's drop after the cleanup does not
/// run rdkafka's blocking close again.
///
/// Give the close a timeout shorter than the shutdown's, so the other
/// closes and the report still have time: `#[cleanup(after = "work",
/// timeout = "5s")]`.
///
/// Once it has answered, the thread waits up to a second for the other
/// references to go, so that the last drop (librdkafka's
/// `rd_kafka_destroy`) happens there. rdkafka's `Drop` then tries to close
/// the consumer again and logs, through `log`, that it could not: it was
/// closed already.
///
/// # Rolling restarts
///
/// A restart that hands the partitions over without a pause needs, in the
/// consumer's configuration:
///
/// - **static membership**, `group.instance.id` set to a name that stays
///   the same across the instance's restarts (a StatefulSet's pod name, a
///   systemd instance name): the old process does not leave the group,
///   and the new one takes its partitions back without a rebalance; they
///   wait only from the old process's exit to the new one's join;
/// - **`partition.assignment.strategy=cooperative-sticky`**: when a
///   rebalance does happen, only the partitions that move are revoked, and
///   the other members keep consuming;
/// - **`session.timeout.ms` against the supervisor's budget**: a static
///   member's partitions wait for it that long, so keep it above the
///   longest restart (stop plus start) and the shutdown timeout within the
///   supervisor's budget (`GRACEFUL_SUPERVISOR_BUDGET` warns when it is
///   not). Without static membership, the member leaves the group at the
///   close, and the others rebalance at once.
///
/// One message at a time, for brevity: `examples/kafka_consumer.rs`
/// processes a window of them concurrently, each on a task of a
/// `TaskTracker` the consumer is tagged `after`, and stores a partition's
/// offset only once every earlier message of the partition is done.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use graceful_rt::{graceful_main, BoxError, Cleanup, Shutdown};
/// use rdkafka::consumer::{Consumer, StreamConsumer};
/// use rdkafka::{ClientConfig, Message};
///
/// #[derive(Cleanup)]
/// struct State {
///     // Committed, then closed; cut after 5 s, within the 15 s budget.
///     #[cleanup(timeout = "5s")]
///     consumer: Arc<StreamConsumer>,
/// }
///
/// #[graceful_main(timeout = "15s")]
/// async fn main(shutdown: Shutdown) -> Result<State, BoxError> {
///     let consumer: Arc<StreamConsumer> = Arc::new(
///         ClientConfig::new()
///             .set("bootstrap.servers", "127.0.0.1:9092")
///             .set("group.id", "workers")
///             .set("group.instance.id", "worker-0")
///             .set("partition.assignment.strategy", "cooperative-sticky")
///             .set("enable.auto.offset.store", "false")
///             .create()?,
///     );
///     consumer.subscribe(&["jobs"])?;
///     loop {
///         tokio::select! {
///             // Stop reading: what was fetched and not handed over stays
///             // uncommitted, for the next owner.
///             () = shutdown.requested() => break,
///             message = consumer.recv() => {
///                 let message = message?;
///                 // The job, then its offset: committed by the close.
///                 job(message.payload()).await;
///                 consumer.store_offset_from_message(&message)?;
///             }
///         }
///     }
///     Ok(State { consumer })
/// }
/// # async fn job(_: Option<&[u8]>) {}
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "rdkafka")))]
impl<C, R> Close for Arc<StreamConsumer<C, R>>
where
    C: ConsumerContext + 'static,
    R: Send + Sync + 'static,
{
    async fn close(&self) -> Result<(), BoxError> {
        off_the_runtime(Arc::clone(self)).await
    }
}

/// The same close as for `Arc<StreamConsumer>`: the stored offsets
/// committed synchronously, then the consumer closed, on a thread of its
/// own, cut at the close's timeout without hanging the exit.
///
/// Stop polling the consumer before the close starts (tag it `after`
/// whatever polls it): the close serves the consumer's last events
/// itself.
#[cfg_attr(docsrs, doc(cfg(feature = "rdkafka")))]
impl<C> Close for Arc<BaseConsumer<C>>
where
    C: ConsumerContext + 'static,
{
    async fn close(&self) -> Result<(), BoxError> {
        off_the_runtime(Arc::clone(self)).await
    }
}

/// Runs the steps on a thread of their own (see
/// [`detached`](crate::cleanup::detached)); a close that is cut leaves the
/// thread holding its reference to the consumer. After answering, the
/// thread waits a moment for the other references to go, so that the
/// consumer's last drop (rdkafka's own close, which blocks) is its own and
/// not the runtime's.
async fn off_the_runtime<K, C>(consumer: Arc<K>) -> Result<(), BoxError>
where
    K: Consumer<C> + Send + Sync + 'static,
    C: ConsumerContext + 'static,
{
    let last_reference = |consumer: Arc<K>| {
        let until = Instant::now() + LAST_REFERENCE;
        while Arc::strong_count(&consumer) > 1 && Instant::now() < until {
            thread::sleep(Duration::from_millis(2));
        }
        drop(consumer);
    };
    let steps = |consumer: &Arc<K>| steps(&**consumer);
    match detached::off_the_runtime("graceful-kafka-close", consumer, steps, last_reference).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.into()),
        Err(NoAnswer::Spawn(error)) => Err(ConsumerError::Spawn(error).into()),
        Err(NoAnswer::Ended) => Err(ConsumerError::NoAnswer.into()),
    }
}

/// The close's steps, on its thread.
fn steps<K, C>(consumer: &K) -> Result<(), ConsumerError>
where
    K: Consumer<C>,
    C: ConsumerContext,
{
    let client = consumer.client();
    if native::closed(client) {
        return Ok(());
    }
    let fatal = client.fatal_error();
    if let Ok(assignment) = consumer.assignment() {
        // Best effort: a pause that fails changes nothing the commit or
        // the close rely on.
        let _ = consumer.pause(&assignment);
    }
    let committed = match &fatal {
        Some(_) => Ok(()),
        None => match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(())
            | Err(KafkaError::ConsumerCommit(
                RDKafkaErrorCode::NoOffset | RDKafkaErrorCode::UnknownGroup,
            )) => Ok(()),
            Err(error) => Err(error),
        },
    };
    let closed = match native::close(client) {
        RDKafkaErrorCode::NoError | RDKafkaErrorCode::UnknownGroup => Ok(()),
        code => Err(code),
    };
    match (fatal, committed, closed) {
        (Some((code, reason)), _, _) => Err(ConsumerError::Fatal { code, reason }),
        (None, Ok(()), Ok(())) => Ok(()),
        (None, Err(commit), Ok(())) => Err(ConsumerError::Commit(commit)),
        (None, Ok(()), Err(close)) => Err(ConsumerError::Close(close)),
        (None, Err(commit), Err(close)) => Err(ConsumerError::Both { commit, close }),
    }
}

/// The two librdkafka calls rdkafka keeps to itself for a
/// `StreamConsumer`: its close runs only in `Drop`.
mod native {
    use rdkafka::bindings;
    use rdkafka::client::Client;
    use rdkafka::consumer::ConsumerContext;
    use rdkafka::error::RDKafkaErrorCode;

    /// `rd_kafka_consumer_close`: revokes the assignment (serving the
    /// rebalance on the calling thread), leaves the group and waits for
    /// the coordinator, however long that takes.
    pub(super) fn close<C: ConsumerContext>(client: &Client<C>) -> RDKafkaErrorCode {
        // SAFETY: `native_ptr` is the `rd_kafka_t` that `client` owns and
        // destroys only in its `Drop`; the borrow of `client` (from a
        // consumer the caller holds an `Arc` of) keeps it alive for the
        // whole call. librdkafka's API may be called from any thread, and
        // the close is safe to repeat: a second close (rdkafka's `Drop`
        // calls `rd_kafka_consumer_close_queue`) returns "Consumer already
        // closed" and does nothing. A consumer without a group returns
        // `__UNKNOWN_GROUP` at once.
        #[allow(unsafe_code)]
        let code = unsafe { bindings::rd_kafka_consumer_close(client.native_ptr()) };
        code.into()
    }

    /// `rd_kafka_consumer_closed`: whether the consumer has been closed.
    pub(super) fn closed<C: ConsumerContext>(client: &Client<C>) -> bool {
        // SAFETY: as for `close`: a live `rd_kafka_t`; the call only reads
        // an atomic (0 for a consumer without a group).
        #[allow(unsafe_code)]
        let closed = unsafe { bindings::rd_kafka_consumer_closed(client.native_ptr()) };
        closed == 1
    }
}

/// A consumer that did not close cleanly: which step failed, and
/// librdkafka's error.
#[derive(Debug)]
enum ConsumerError {
    /// librdkafka marked the consumer failed: nothing was committed.
    Fatal {
        code: RDKafkaErrorCode,
        reason: String,
    },
    Commit(KafkaError),
    Close(RDKafkaErrorCode),
    Both {
        commit: KafkaError,
        close: RDKafkaErrorCode,
    },
    Spawn(std::io::Error),
    NoAnswer,
}

impl fmt::Display for ConsumerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsumerError::Fatal { code, reason } => write!(
                f,
                "Kafka consumer: fatal error ({code}: {reason}); the stored offsets were not committed"
            ),
            ConsumerError::Commit(_) => {
                write!(f, "Kafka consumer: committing the stored offsets failed")
            }
            ConsumerError::Close(_) => write!(f, "Kafka consumer: closing it failed"),
            ConsumerError::Both { commit, .. } => write!(
                f,
                "Kafka consumer: committing the stored offsets failed ({commit}), then closing it failed"
            ),
            ConsumerError::Spawn(_) => {
                write!(f, "Kafka consumer: cannot start the thread that closes it")
            }
            ConsumerError::NoAnswer => write!(
                f,
                "Kafka consumer: the thread closing it ended without an answer"
            ),
        }
    }
}

impl Error for ConsumerError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ConsumerError::Commit(error) => Some(error),
            ConsumerError::Close(code) | ConsumerError::Both { close: code, .. } => Some(code),
            ConsumerError::Spawn(error) => Some(error),
            ConsumerError::Fatal { .. } | ConsumerError::NoAnswer => None,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Against librdkafka's mock cluster: real brokers in this process,
    //! on localhost sockets, with consumer groups and offset commits.

    use std::time::{Duration, Instant};

    use rdkafka::ClientConfig;
    use rdkafka::Message as _;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use rdkafka::{Offset, TopicPartitionList};

    use super::*;

    const TOPIC: &str = "jobs";
    const WAIT: Duration = Duration::from_secs(30);

    /// A mock cluster of one broker, with `TOPIC` (one partition) holding
    /// the payloads 0..10.
    async fn cluster() -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic(TOPIC, 1, 1).unwrap();
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .create()
            .unwrap();
        for n in 0..10 {
            producer
                .send(
                    FutureRecord::<(), _>::to(TOPIC).payload(&n.to_string()),
                    WAIT,
                )
                .await
                .unwrap();
        }
        cluster
    }

    fn consumer(bootstrap: &str, group: &str) -> Arc<StreamConsumer> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.offset.store", "false")
            // Only the close commits.
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        consumer.subscribe(&[TOPIC]).unwrap();
        Arc::new(consumer)
    }

    /// Receives the 10 messages, storing the offsets of the first `done`.
    async fn consume(consumer: &StreamConsumer, done: i64) {
        for _ in 0..10 {
            let message = tokio::time::timeout(WAIT, consumer.recv())
                .await
                .expect("no message within 30 s")
                .unwrap();
            if message.offset() < done {
                consumer.store_offset_from_message(&message).unwrap();
            }
        }
    }

    /// The group's committed offset of `TOPIC`'s partition.
    fn committed(bootstrap: &str, group: &str) -> Offset {
        let reader: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .create()
            .unwrap();
        let mut list = TopicPartitionList::new();
        list.add_partition(TOPIC, 0);
        reader
            .committed_offsets(list, WAIT)
            .unwrap()
            .find_partition(TOPIC, 0)
            .unwrap()
            .offset()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_the_stored_offsets_then_closes_and_closes_again() {
        let cluster = cluster().await;
        let bootstrap = cluster.bootstrap_servers();
        let consumer = consumer(&bootstrap, "committed");
        consume(&consumer, 6).await;
        consumer.close().await.unwrap();
        // Offsets 0..6 were done: the next owner starts at 6, not at 10
        // (received, not done), nor at 0.
        assert_eq!(committed(&bootstrap, "committed"), Offset::Offset(6));
        // Closed already: at once, `Ok`.
        let again = Instant::now();
        consumer.close().await.unwrap();
        assert!(again.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_consumer_with_nothing_stored_closes() {
        let cluster = cluster().await;
        let bootstrap = cluster.bootstrap_servers();
        let consumer = consumer(&bootstrap, "nothing");
        consume(&consumer, 0).await;
        consumer.close().await.unwrap();
        assert_eq!(committed(&bootstrap, "nothing"), Offset::Invalid);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_base_consumer_assigned_by_hand_commits_then_closes() {
        let cluster = cluster().await;
        let bootstrap = cluster.bootstrap_servers();
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "assigned")
            .set("enable.auto.offset.store", "false")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(TOPIC, 0, Offset::Beginning)
            .unwrap();
        consumer.assign(&list).unwrap();
        let consumer = Arc::new(consumer);
        let polling = Arc::clone(&consumer);
        tokio::task::spawn_blocking(move || {
            let until = Instant::now() + WAIT;
            let mut received = 0;
            while received < 10 {
                assert!(Instant::now() < until, "{received} messages within 30 s");
                if let Some(message) = polling.poll(Duration::from_millis(100)) {
                    let message = message.unwrap();
                    received += 1;
                    if message.offset() < 4 {
                        polling.store_offset_from_message(&message).unwrap();
                    }
                }
            }
        })
        .await
        .unwrap();
        consumer.close().await.unwrap();
        assert_eq!(committed(&bootstrap, "assigned"), Offset::Offset(4));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_broker_gone_costs_the_timeout_and_the_last_drop_does_not_hang() {
        let cluster = cluster().await;
        let bootstrap = cluster.bootstrap_servers();
        let consumer = consumer(&bootstrap, "gone");
        consume(&consumer, 6).await;
        cluster.broker_down(1).unwrap();
        let started = Instant::now();
        let closed = tokio::time::timeout(Duration::from_secs(2), consumer.close()).await;
        let took = started.elapsed();
        eprintln!("broker gone: the close ended after {took:?}: {closed:?}");
        // Cut at its timeout, or failed before it: never longer.
        assert!(took < Duration::from_secs(3), "the close took {took:?}");
        if let Ok(closed) = closed {
            assert!(closed.is_err(), "closed with the broker gone: {closed:?}");
        }
        // The thread left behind holds a reference: this drop does not
        // run rdkafka's blocking close.
        let dropped = Instant::now();
        drop(consumer);
        assert!(
            dropped.elapsed() < Duration::from_secs(1),
            "the drop took {:?}",
            dropped.elapsed()
        );
    }

    #[test]
    fn errors_name_the_step() {
        let message = |error: ConsumerError| match error.source() {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        };
        assert_eq!(
            message(ConsumerError::Close(
                RDKafkaErrorCode::BrokerTransportFailure
            )),
            "Kafka consumer: closing it failed: BrokerTransportFailure (Local: Broker transport failure)"
        );
        assert_eq!(
            message(ConsumerError::Commit(KafkaError::ConsumerCommit(
                RDKafkaErrorCode::WaitingForCoordinator
            ))),
            "Kafka consumer: committing the stored offsets failed: Consumer commit error: WaitingForCoordinator (Local: Waiting for coordinator)"
        );
        assert_eq!(
            message(ConsumerError::Fatal {
                code: RDKafkaErrorCode::Fatal,
                reason: "fenced".to_owned()
            }),
            "Kafka consumer: fatal error (Fatal (Local: Fatal error): fenced); the stored offsets were not committed"
        );
    }
}
