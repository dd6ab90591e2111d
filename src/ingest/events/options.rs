//! What to read and how: the sources of events and the options of the one pass.

use polars::prelude::DataFrame;

use crate::ingest::columns::EventColumns;
use crate::ingest::source::InputFile;

/// Where events come from: files, or an in-memory frame with the default column names and
/// string values (the demo), which goes through exactly the same parsing as a CSV file.
pub enum EventSource {
    Files(Vec<InputFile>),
    Frame { name: String, frame: DataFrame },
}

#[derive(Debug, Clone)]
pub struct EventOptions {
    pub columns: EventColumns,
    pub delimiter: u8,
    /// Ignore events after this UTC day.
    pub as_of: Option<i32>,
    pub skip_bad_rows: bool,
    /// The zone of date-times written without one (UTC when `None`).
    pub timezone: Option<chrono_tz::Tz>,
    /// Read the files as this vendor's export (`None`: tables, or a vendor export detected
    /// from its first record).
    pub format: Option<super::Vendor>,
}
