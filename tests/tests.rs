//! The integration tests, in one binary so that the library (and polars) is linked once; one
//! module per area, with the shared harness in `common`.

mod common;

mod accounts;
mod billing;
mod check;
mod churn;
mod cli;
mod currencies;
mod demo;
mod discover;
mod errors;
mod first_contact;
mod kinds;
mod layout;
mod odd_inputs;
mod parquet;
mod plan;
mod properties;
mod repeat;
mod report;
mod statsmodels;
mod timestamps;
mod vendors;
mod warehouse;
