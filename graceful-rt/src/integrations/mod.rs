//! `Close` for the clients services use, one crate feature each, named
//! after the crate it integrates.

#[cfg(feature = "sqlx")]
mod sqlx;
