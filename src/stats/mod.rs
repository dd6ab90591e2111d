//! Statistics: pure functions over slices. No I/O, no printing. Each routine names its formula
//! and the reference implementation it must agree with.

pub mod accounts;
pub mod churn;
pub mod evidence;
pub mod family;
pub mod lead;
pub(crate) mod linalg;
pub mod score;
pub mod series;
