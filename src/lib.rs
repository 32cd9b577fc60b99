//! `tiering`: grades a company's customers from transaction history.
//!
//! A run is a few pure steps over polars frames, wired by [`pipeline::run`]:
//! [`load`] (the only reader) -> [`clean`] -> [`features`] -> [`tiers`] -> [`output`] (the only
//! writer).

pub mod attributes;
pub mod bench;
pub mod clean;
pub mod cli;
#[cfg(feature = "distributed")]
pub mod cluster;
pub mod columns;
pub mod compare;
pub mod config;
pub mod error;
pub mod features;
pub mod generate;
pub mod history;
pub mod lang;
pub mod load;
pub mod output;
pub mod par;
pub mod pipeline;
pub mod plan;
pub mod potential;
pub mod progress;
pub mod stats;
#[cfg(test)]
mod testing;
pub mod tiers;
