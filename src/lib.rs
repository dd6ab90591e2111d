//! nsm: which metric should be your North Star?
//!
//! Data flows one way, each step a folder that imports only from the steps before it:
//!
//! - [`ingest`]: event and revenue files into compact columns, the analysis periods and every
//!   customer's status ([`ingest::dataset`]);
//! - `candidates`: the config model, the automatic catalog and the one pass per candidate that
//!   computes its series and per-account parts;
//! - [`stats`]: the lead and churn tests, labels and scores (pure functions, no I/O);
//! - `evaluation`: the pipeline that runs them and the typed JSON model of the result;
//! - `gate`: the checks of `nsm check`;
//! - `render`: every output format behind one trait (table, JSON, CSV, Markdown, the review
//!   document, the gate's outputs);
//! - [`cmd`]: one thin module per subcommand, parsed by `cli`.
//!
//! Where to add things: a candidate kind in `candidates` (its model in `candidates/mod.rs`,
//! its pass in `candidates/plan.rs`, its SQL in `sql.rs`); an output format as one file under
//! `render/`; an input format in `ingest/events/plan.rs` (events) or `ingest/revenue/`.
//!
//! Only what the binary, the integration tests and the examples use is public.

pub(crate) mod candidates;
pub(crate) mod cli;
pub mod cmd;
pub(crate) mod demo;
pub(crate) mod discovery;
pub mod error;
pub(crate) mod evaluation;
pub mod exit_codes;
pub(crate) mod gate;
pub mod ingest;
pub(crate) mod memory;
pub(crate) mod output;
pub mod period;
pub mod progress;
pub(crate) mod render;
pub(crate) mod sql;
pub mod stats;
