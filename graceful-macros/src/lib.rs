//! The procedural macros of [graceful-rt](https://docs.rs/graceful-rt):
//! `#[graceful_main]` and `#[derive(Cleanup)]`.
//!
//! Depend on `graceful-rt`, which re-exports them; this crate only turns
//! syntax into calls to `graceful_rt::__private`, where the behaviour lives.

use proc_macro::TokenStream;

mod cleanup_derive;
mod crate_path;
mod duration;
mod errors;
mod main_attr;
#[cfg(test)]
mod reference;
mod suggest;
mod syntax;

/// Turns `async fn main` into a process that shuts down gracefully.
#[proc_macro_attribute]
pub fn graceful_main(args: TokenStream, item: TokenStream) -> TokenStream {
    main_attr::expand(args.into(), item.into()).into()
}

/// Derives `graceful_rt::Cleanup` for a struct: each field tagged
/// `#[cleanup]` is closed concurrently when the application stops.
#[proc_macro_derive(Cleanup, attributes(cleanup))]
pub fn derive_cleanup(input: TokenStream) -> TokenStream {
    cleanup_derive::derive(input.into()).into()
}
