//! The whole evaluation: [`pipeline`] reads the inputs, computes every series and runs the
//! tests; [`model`] is the typed, serialisable result that every output format renders and
//! that saved evaluations are read back into.

pub(crate) mod model;
pub(crate) mod pipeline;

pub(crate) use model::*;
pub(crate) use pipeline::{evaluate, Inputs, RevenueSource, SeriesFiles, Settings};
