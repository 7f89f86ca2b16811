//! The shutdown: what starts it ([`Cause`]), the one clock every phase reads
//! ([`timeline`]), the handle the application and the servers hold
//! ([`Shutdown`]), and the phase machine that records what has happened and
//! leads to the exit ([`phase`]).

pub(crate) mod cause;
mod handle;
pub(crate) mod phase;
pub(crate) mod timeline;

pub use cause::Cause;
pub use handle::{Draining, Requested, Shutdown};
