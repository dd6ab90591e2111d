//! Reading inputs: event files into compact integer columns ([`activity::Activity`]), revenue
//! files into amounts.

pub mod activity;
pub mod events;
pub mod revenue;
pub mod series;
pub mod source;
pub mod timestamp;
