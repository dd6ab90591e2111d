//! nsm: which metric should be your North Star?
//!
//! Data flows one way: [`ingest`] (events and revenue) → [`candidates`] (one plan computes
//! every series) → [`stats`] (lead and churn tests, scores) → [`render`].

pub mod candidates;
pub mod cli;
pub mod cmd;
pub mod demo;
pub mod error;
pub mod evaluation;
pub mod exit_codes;
pub mod gate;
pub mod ingest;
pub mod output;
pub mod period;
pub mod progress;
pub mod render;
pub mod sql;
pub mod stats;
