//! `Close` for the clients services use, one crate feature each, named
//! after the crate it integrates. Each impl says what its close guarantees.

#[cfg(feature = "async-nats")]
mod async_nats;
#[cfg(feature = "deadpool-postgres")]
mod deadpool_postgres;
#[cfg(feature = "lapin")]
mod lapin;
#[cfg(feature = "opentelemetry")]
mod opentelemetry;
#[cfg(feature = "rdkafka")]
mod rdkafka;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlx")]
mod sqlx;
#[cfg(feature = "tokio-util")]
mod tokio_util;
