//! The procedural macros of [graceful-rt](https://docs.rs/graceful-rt):
//! `#[graceful_main]` and `#[derive(Cleanup)]`.
//!
//! Depend on `graceful-rt`, which re-exports them; this crate only turns
//! syntax into calls to `graceful_rt::__private`, where the behaviour lives.

use proc_macro::TokenStream;

mod duration;
mod errors;
mod main_attr;
mod suggest;

/// Turns `async fn main` into a process that shuts down gracefully.
///
/// Documented in graceful-rt, which re-exports it.
#[proc_macro_attribute]
pub fn graceful_main(args: TokenStream, item: TokenStream) -> TokenStream {
    main_attr::expand(args.into(), item.into()).into()
}
