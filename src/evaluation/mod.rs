//! The whole evaluation: [`pipeline`] reads the inputs, computes every series and runs the
//! tests; [`model`] is the typed, serialisable result that every output format renders and
//! that saved evaluations are read back into.

pub mod model;
pub mod pipeline;

pub use model::*;
pub use pipeline::{evaluate, Inputs, RevenueSource, SeriesFiles, Settings};
