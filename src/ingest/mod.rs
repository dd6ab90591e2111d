//! Reading inputs: event files into compact integer columns ([`activity::Activity`]), revenue
//! files into amounts, and both into the analysis frame of periods and customers
//! ([`dataset::Dataset`]).
//!
//! Nothing here knows about candidates: ingest is the first step of the one-way flow
//! ingest → candidates → stats → evaluation → render → cmd.

pub mod activity;
pub(crate) mod bad_row;
pub mod columns;
pub(crate) mod dataset;
pub mod events;
pub mod propose;
pub mod revenue;
pub mod source;
pub mod timestamp;
