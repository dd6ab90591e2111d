//! One amount of revenue as read from a file, before it is spread over periods, and the
//! error of one cell of a revenue file: shared by nsm's own tables and the billing exports.

use crate::error::InputError;

/// When an amount starts: a whole month (`2024-03`) or a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Month(i32),
    Day(i32),
}

/// What an amount covers from its start: whole months (the amount split evenly between
/// them), or the days up to an end day (exclusive; the amount split evenly between the days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Months(u32),
    Days(i32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RevenueEntry {
    pub customer: Option<String>,
    pub start: Start,
    pub span: Span,
    pub amount: f64,
}

/// Rows of a file as text, with the line each came from.
pub(super) type Rows = Vec<(u64, Vec<String>)>;

/// The error of one cell: file, line, column (by its header) and value.
pub(super) fn cell_error(
    label: &str,
    line: u64,
    header: &[String],
    column: usize,
    value: &str,
    what: &str,
) -> anyhow::Error {
    InputError::at(
        label,
        Some(line),
        header.get(column).map(String::as_str),
        Some(value),
        what,
    )
    .into()
}
