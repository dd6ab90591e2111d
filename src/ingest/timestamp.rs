//! Timestamps to UTC instants and days. One strict grammar, applied by the same function to the
//! events (inside the polars pass), to revenue, and to locate a bad row; the common fixed
//! shapes also have a faster polars `strptime` path that must agree with it.
//!
//! Accepted text (README "Timestamps", one test per exporter's shape):
//! - `YYYY-MM-DD`, midnight UTC;
//! - `YYYY-MM-DD[T| ]HH:MM[:SS[.f]]` with 1–9 fraction digits, then an optional zone:
//!   `Z`, ` UTC`, or an offset `±HH`, `±HH:MM` or `±HHMM` (at most 14 hours), with or without
//!   one space before it. An offset is converted to UTC; no zone is read as UTC.
//! - epoch numbers, integer or decimal: seconds below 1e11 in magnitude, milliseconds below
//!   1e14, microseconds below 1e17, nanoseconds above (1e11 seconds is the year 5138; 1e11 ms
//!   is 1973-03-03, and so on up the units).
//!
//! Anything else is refused, never guessed: a trailing text that is not a zone makes the value
//! a bad row. A column holds one family: either ISO text or epoch numbers.

use chrono_tz::Tz;
use polars::prelude::*;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
const SECONDS_PER_DAY: f64 = 86_400.0;
/// Epoch magnitudes from which values are milliseconds, microseconds, nanoseconds.
const EPOCH_MILLIS_FROM: f64 = 1e11;
const EPOCH_MICROS_FROM: f64 = 1e14;
const EPOCH_NANOS_FROM: f64 = 1e17;
/// The largest offset from UTC in use (Kiribati, +14:00).
const MAX_OFFSET_HOURS: i64 = 14;

/// Why a text is refused as a timestamp, in every message that says so.
pub const NOT_A_TIMESTAMP: &str = "not a timestamp nsm can read; accepted: 2024-03-01, 2024-03-01T12:00:00Z, 2024-03-01 12:00:00.123456 with no zone (UTC) or a zone Z, ' UTC', +02, +02:00 or +0200 (a space before it allowed), or epoch seconds, milliseconds, microseconds or nanoseconds";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFamily {
    /// `2024-03-01`, `2024-03-01T12:00:00Z`, `2024-03-01 12:00:00.5+02:00`, ...
    Iso,
    /// `1709251200` (seconds), `1709251200000` (milliseconds), microseconds, nanoseconds.
    Epoch,
}

impl TimestampFamily {
    /// The family of a sample value, or `None` when it is neither.
    pub fn detect(sample: &str) -> Option<Self> {
        let sample = sample.trim();
        if parse_epoch_day(sample).is_some() {
            Some(Self::Epoch)
        } else if parse_iso_day(sample).is_some() {
            Some(Self::Iso)
        } else {
            None
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Iso => "ISO 8601 dates and times",
            Self::Epoch => "epoch seconds, milliseconds, microseconds or nanoseconds",
        }
    }

    /// UTC day of one value of this family.
    pub fn parse_day(self, text: &str) -> Option<i32> {
        let text = text.trim();
        match self {
            Self::Iso => parse_iso_day(text),
            Self::Epoch => parse_epoch_day(text),
        }
    }

    /// The same parse as [`Self::parse_day`] as a polars expression over a string column,
    /// date-times without a zone read in `zone`; unparsable values become null.
    pub fn day_expr(self, text: Expr, zone: Option<Tz>) -> Expr {
        match self {
            Self::Iso => iso_day_expr(text, zone),
            Self::Epoch => epoch_day_expr(text),
        }
    }
}

/// The exact strptime format of a UTC timestamp in one of the common export shapes
/// (`2024-03-01T12:00:00Z`, `2024-03-01T12:00:00.123Z`, `2024-03-01 12:00:00`,
/// `2024-03-01T12:00:00`, `2024-03-01`), if the text has one. A column whose values all have
/// the same shape is read with [`fast_day_expr`], several times faster than the general
/// expression.
pub fn fast_format(text: &str) -> Option<&'static str> {
    let b = text.as_bytes();
    let digits = |positions: &[usize]| positions.iter().all(|&i| b[i].is_ascii_digit());
    let date_ok =
        b.len() >= 10 && digits(&[0, 1, 2, 3, 5, 6, 8, 9]) && b[4] == b'-' && b[7] == b'-';
    if !date_ok {
        return None;
    }
    if b.len() == 10 {
        return Some("%Y-%m-%d");
    }
    let time_ok =
        b.len() >= 19 && digits(&[11, 12, 14, 15, 17, 18]) && b[13] == b':' && b[16] == b':';
    if !time_ok {
        return None;
    }
    match (b.len(), b[10], b.get(19), b.last()) {
        (20, b'T', Some(b'Z'), _) => Some("%Y-%m-%dT%H:%M:%SZ"),
        (24, b'T', Some(b'.'), Some(b'Z')) if digits(&[20, 21, 22]) => {
            Some("%Y-%m-%dT%H:%M:%S%.3fZ")
        }
        (19, b'T', None, _) => Some("%Y-%m-%dT%H:%M:%S"),
        (19, b' ', None, _) => Some("%Y-%m-%d %H:%M:%S"),
        _ => None,
    }
}

/// An IANA zone name (`Europe/Berlin`), or why it is not one.
pub fn parse_zone(text: &str) -> Result<Tz, String> {
    text.parse::<Tz>().map_err(|_| {
        format!(
            "'{text}' is not an IANA time zone name (such as Europe/Berlin, America/New_York or UTC)"
        )
    })
}

/// A [`fast_format`] shape of a date-time without a zone.
pub fn is_naive(format: &str) -> bool {
    format.contains("%H") && !format.ends_with('Z')
}

/// UTC days of a text column in one of the [`fast_format`] shapes; values of another shape
/// become null.
pub fn fast_day_expr(text: Expr, format: &'static str) -> Expr {
    let options = StrptimeOptions {
        format: Some(format.into()),
        strict: false,
        exact: true,
        cache: false,
    };
    if format == "%Y-%m-%d" {
        return text.str().to_date(options).cast(DataType::Int32);
    }
    text.str()
        .to_datetime(Some(TimeUnit::Milliseconds), None, options, lit("raise"))
        .cast(DataType::Int64)
        .floor_div(lit(86_400_000i64))
        .cast(DataType::Int32)
}

/// The epoch number of a text: only digits, one `-` in front and at most one `.`.
fn epoch_value(text: &str) -> Option<f64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    // Whole numbers of up to 15 digits are exact in an f64: the value without the float parser.
    if fraction.is_empty() && !text.contains('.') && whole.len() <= 15 {
        let n = whole
            .bytes()
            .fold(0u64, |n, b| n * 10 + u64::from(b - b'0')) as f64;
        return Some(if text.starts_with('-') { -n } else { n });
    }
    text.parse().ok()
}

/// An epoch number in its unit (told by its magnitude) as seconds; `None` unless finite.
fn epoch_seconds(value: f64) -> Option<f64> {
    let magnitude = value.abs();
    let divisor = if magnitude >= EPOCH_NANOS_FROM {
        1e9
    } else if magnitude >= EPOCH_MICROS_FROM {
        1e6
    } else if magnitude >= EPOCH_MILLIS_FROM {
        1e3
    } else {
        1.0
    };
    value.is_finite().then(|| value / divisor)
}

/// An epoch number (any accepted unit) to a UTC day.
fn epoch_day(value: f64) -> Option<i32> {
    let day = (epoch_seconds(value)? / SECONDS_PER_DAY).floor();
    (day.abs() < f64::from(i32::MAX)).then_some(day as i32)
}

/// Epoch text (any accepted unit) to a UTC day.
pub fn parse_epoch_day(text: &str) -> Option<i32> {
    epoch_day(epoch_value(text)?)
}

/// Epoch text to UTC microseconds (for tests against other parsers).
pub fn parse_epoch_micros(text: &str) -> Option<i64> {
    epoch_micros(epoch_value(text)?)
}

/// An epoch number (any accepted unit) to microseconds since the epoch.
pub fn epoch_micros(value: f64) -> Option<i64> {
    let micros = (epoch_seconds(value)? * 1e6).round();
    (micros.abs() < 9e18).then_some(micros as i64)
}

/// A numeric epoch column (any accepted unit) to UTC days, by [`epoch_day`].
pub fn epoch_seconds_to_day(value: Expr) -> Expr {
    days_udf(value.cast(DataType::Float64), |column| {
        Ok(column
            .f64()?
            .iter()
            .map(|v| v.and_then(epoch_day))
            .collect())
    })
}

/// The value of the digits of `text[range]`, if they are all digits.
fn number(bytes: &[u8], from: usize, len: usize) -> Option<i64> {
    let digits = bytes.get(from..from + len)?;
    digits.iter().try_fold(0i64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
    })
}

/// The zone after the time, in seconds east of UTC; `None` when the text is not a zone.
fn zone_seconds(zone: &[u8]) -> Option<i64> {
    let zone = zone.strip_prefix(b" ").unwrap_or(zone);
    match zone {
        b"" | b"Z" | b"z" | b"UTC" => return Some(0),
        _ => {}
    }
    let sign = match zone.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (hours, minutes) = match zone.len() {
        3 => (number(zone, 1, 2)?, 0),
        5 => (number(zone, 1, 2)?, number(zone, 3, 2)?),
        6 if zone[3] == b':' => (number(zone, 1, 2)?, number(zone, 4, 2)?),
        _ => return None,
    };
    if minutes >= 60 || hours * 60 + minutes > MAX_OFFSET_HOURS * 60 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// The days since the epoch of a `YYYY-MM-DD` text's calendar date, if it is one.
fn date_day(date: &[u8]) -> Option<i64> {
    if date.len() != 10 || date[4] != b'-' || date[7] != b'-' {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(number(date, 0, 4)?).ok()?,
        u32::try_from(number(date, 5, 2)?).ok()?,
        u32::try_from(number(date, 8, 2)?).ok()?,
    )?;
    Some(i64::from(crate::period::day_of_date(date)))
}

/// An accepted ISO text split into its wall time (microseconds since the epoch, as if it were
/// UTC) and its zone: `Some(seconds east of UTC)`, `None` for a date-time without a zone. A
/// date alone is `Some(0)`: a calendar day, the same day in every zone.
fn parse_iso_parts(text: &str) -> Option<(i64, Option<i64>)> {
    parse_iso_parts_with(text, date_day)
}

/// [`parse_iso_parts`] with the calendar date (the first ten bytes) turned into days by
/// `date_day`, which may remember its last answer.
#[inline]
fn parse_iso_parts_with(
    text: &str,
    mut date_day: impl FnMut(&[u8]) -> Option<i64>,
) -> Option<(i64, Option<i64>)> {
    let b = text.trim().as_bytes();
    let day = date_day(b.get(..10)?)?;
    if b.len() == 10 {
        return Some((day * MICROS_PER_DAY, Some(0)));
    }
    if !matches!(b[10], b'T' | b' ') || b.get(13) != Some(&b':') {
        return None;
    }
    let (hour, minute) = (number(b, 11, 2)?, number(b, 14, 2)?);
    let mut at = 16;
    let mut second = 0;
    let mut micros = 0;
    if b.get(at) == Some(&b':') {
        second = number(b, at + 1, 2)?;
        at += 3;
        if b.get(at) == Some(&b'.') {
            let digits = b[at + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if !(1..=9).contains(&digits) {
                return None;
            }
            // Microseconds from the first six digits (padded), the rest truncated.
            micros = (0..6).fold(0, |n, i| {
                let d = if i < digits { b[at + 1 + i] - b'0' } else { 0 };
                n * 10 + i64::from(d)
            });
            at += 1 + digits;
        }
    }
    if hour >= 24 || minute >= 60 || second >= 60 {
        return None;
    }
    let zone = &b[at..];
    let offset = if zone.is_empty() {
        None
    } else {
        Some(zone_seconds(zone)?)
    };
    let seconds = day * 86_400 + hour * 3600 + minute * 60 + second;
    Some((seconds * MICROS_PER_SECOND + micros, offset))
}

/// A wall time (microseconds since the epoch, as if UTC) in `zone` to the UTC instant.
/// In the spring gap (a wall time that does not exist) the time is read with the offset in
/// force before the change, so 02:30 in a gap from 02:00 to 03:00 is 03:30 after it, as
/// PostgreSQL does; in the autumn overlap (a wall time that happens twice) it is the first of
/// the two instants.
pub fn local_to_utc_micros(wall: i64, zone: Tz) -> Option<i64> {
    use chrono::{LocalResult, Offset, TimeZone};
    let naive = chrono::DateTime::from_timestamp_micros(wall)?.naive_utc();
    let utc = match zone.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.timestamp_micros(),
        LocalResult::Ambiguous(first, second) => {
            first.timestamp_micros().min(second.timestamp_micros())
        }
        LocalResult::None => {
            let before = zone
                .offset_from_utc_datetime(&(naive - chrono::Duration::days(1)))
                .fix()
                .local_minus_utc();
            wall - i64::from(before) * MICROS_PER_SECOND
        }
    };
    Some(utc)
}

/// An accepted ISO text (see the module) to UTC microseconds since the epoch; a date-time
/// without a zone is wall time in `zone` (UTC when `None`).
pub fn parse_iso_micros_in(text: &str, zone: Option<Tz>) -> Option<i64> {
    utc_micros(parse_iso_parts(text)?, zone)
}

/// The UTC instant of a wall time and its zone from [`parse_iso_parts`], a wall time without
/// one read in `zone` (UTC when `None`).
#[inline]
fn utc_micros((wall, offset): (i64, Option<i64>), zone: Option<Tz>) -> Option<i64> {
    match (offset, zone) {
        (Some(offset), _) => Some(wall - offset * MICROS_PER_SECOND),
        (None, Some(zone)) => local_to_utc_micros(wall, zone),
        (None, None) => Some(wall),
    }
}

/// An accepted ISO text to UTC microseconds, a date-time without a zone read as UTC.
pub fn parse_iso_micros(text: &str) -> Option<i64> {
    parse_iso_micros_in(text, None)
}

/// The UTC day of an instant in microseconds since the epoch.
pub fn day_of_micros(micros: i64) -> Option<i32> {
    i32::try_from(micros.div_euclid(MICROS_PER_DAY)).ok()
}

/// An accepted ISO text to its UTC day.
pub fn parse_iso_day(text: &str) -> Option<i32> {
    day_of_micros(parse_iso_micros(text)?)
}

/// An accepted ISO text to its UTC day, a date-time without a zone read in `zone`.
pub fn parse_iso_day_in(text: &str, zone: Option<Tz>) -> Option<i32> {
    day_of_micros(parse_iso_micros_in(text, zone)?)
}

/// UTC days of timestamp texts of one family, as [`TimestampFamily::parse_day`] gives them
/// (date-times without a zone read in `zone`), remembering the last calendar date read: a
/// sorted export repeats each date for thousands of rows, so its calendar arithmetic runs once.
pub struct DayReader {
    family: TimestampFamily,
    zone: Option<Tz>,
    /// The last date text and its day.
    date: [u8; 10],
    day: Option<i64>,
}

impl DayReader {
    pub fn new(family: TimestampFamily, zone: Option<Tz>) -> Self {
        DayReader {
            family,
            zone,
            date: [0; 10],
            day: None,
        }
    }

    /// The UTC day of `text`, `None` where [`TimestampFamily::parse_day`] refuses it.
    #[inline]
    pub fn day(&mut self, text: &str) -> Option<i32> {
        match self.family {
            TimestampFamily::Epoch => parse_epoch_day(text.trim()),
            TimestampFamily::Iso => {
                let (date, day) = (&mut self.date, &mut self.day);
                let parts = parse_iso_parts_with(text, |bytes| {
                    if day.is_none() || bytes != date.as_slice() {
                        *day = date_day(bytes);
                        date.copy_from_slice(bytes);
                    }
                    *day
                })?;
                day_of_micros(utc_micros(parts, self.zone)?)
            }
        }
    }
}

/// An elementwise polars function from a column to its UTC days (null where `days` gives
/// none), under the column's name.
fn days_udf(
    raw: Expr,
    days: impl Fn(&Column) -> PolarsResult<Int32Chunked> + Send + Sync + 'static,
) -> Expr {
    raw.map(
        move |column| {
            Ok(days(&column)?
                .with_name(column.name().clone())
                .into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::Int32)),
    )
}

/// A text column through one of the parsers above, as UTC days (null where it refuses).
fn text_day_expr(raw: Expr, parse: impl Fn(&str) -> Option<i32> + Send + Sync + 'static) -> Expr {
    days_udf(raw, move |column| {
        Ok(column
            .str()?
            .iter()
            .map(|text| text.and_then(&parse))
            .collect())
    })
}

fn iso_day_expr(raw: Expr, zone: Option<Tz>) -> Expr {
    text_day_expr(raw, move |text| parse_iso_day_in(text, zone))
}

fn epoch_day_expr(raw: Expr) -> Expr {
    text_day_expr(raw, |text| parse_epoch_day(text.trim()))
}

/// A zone-less datetime column (`per_day` units a day) holding wall times in `zone`, as UTC
/// days.
pub fn local_datetime_day_expr(raw: Expr, per_day: i64, zone: Tz) -> Expr {
    // Microseconds from the column's unit: milliseconds, microseconds or nanoseconds.
    let to_micros = move |value: i64| match per_day.cmp(&MICROS_PER_DAY) {
        std::cmp::Ordering::Less => value * (MICROS_PER_DAY / per_day),
        std::cmp::Ordering::Equal => value,
        std::cmp::Ordering::Greater => value.div_euclid(per_day / MICROS_PER_DAY),
    };
    days_udf(raw.cast(DataType::Int64), move |column| {
        Ok(column
            .i64()?
            .iter()
            .map(|value| day_of_micros(local_to_utc_micros(to_micros(value?), zone)?))
            .collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period::format_day;
    use chrono::{DateTime, NaiveDateTime, TimeZone};
    use proptest::prelude::*;

    fn day(text: &str) -> Option<String> {
        TimestampFamily::detect(text)
            .and_then(|family| family.parse_day(text))
            .map(format_day)
    }

    /// Every accepted shape, with the exporter that writes it and chrono's format for it
    /// (`None`: an epoch number, checked against chrono's `from_timestamp`). The README's
    /// table lists the same examples.
    pub(crate) const SHAPES: &[(&str, &str, Option<&str>)] = &[
        (
            "PostgreSQL / Redshift timestamptz",
            "2024-01-01 01:30:00+02",
            Some("%Y-%m-%d %H:%M:%S%#z"),
        ),
        (
            "PostgreSQL / Redshift timestamptz",
            "2024-01-01 01:30:00.123+02",
            Some("%Y-%m-%d %H:%M:%S%.f%#z"),
        ),
        (
            "PostgreSQL (half-hour zone)",
            "2024-01-01 01:30:00+05:30",
            Some("%Y-%m-%d %H:%M:%S%:z"),
        ),
        (
            "BigQuery CSV",
            "2024-01-01 01:30:00 UTC",
            Some("%Y-%m-%d %H:%M:%S UTC"),
        ),
        (
            "BigQuery CSV",
            "2024-01-01 01:30:00.123456 UTC",
            Some("%Y-%m-%d %H:%M:%S%.f UTC"),
        ),
        (
            "Snowflake",
            "2024-01-01 01:30:00.000 +0200",
            Some("%Y-%m-%d %H:%M:%S%.f %z"),
        ),
        (
            "Spark / Databricks",
            "2024-01-01T01:30:00.000+02:00",
            Some("%Y-%m-%dT%H:%M:%S%.f%:z"),
        ),
        (
            "RFC 3339 (Segment, PostHog)",
            "2024-01-01T01:30:00Z",
            Some("%Y-%m-%dT%H:%M:%SZ"),
        ),
        (
            "RFC 3339, fractional",
            "2024-01-01T01:30:00.123456789Z",
            Some("%Y-%m-%dT%H:%M:%S%.fZ"),
        ),
        (
            "ISO 8601, compact offset",
            "2024-01-01T01:30:00-0500",
            Some("%Y-%m-%dT%H:%M:%S%z"),
        ),
        (
            "ISO 8601, minutes only",
            "2024-01-01T01:30Z",
            Some("%Y-%m-%dT%H:%MZ"),
        ),
        (
            "Excel / ISO without zone (UTC)",
            "2024-01-01T01:30:00",
            Some("%Y-%m-%dT%H:%M:%S"),
        ),
        (
            "MySQL DATETIME (UTC)",
            "2024-01-01 01:30:00",
            Some("%Y-%m-%d %H:%M:%S"),
        ),
        (
            "Amplitude event_time (UTC)",
            "2024-01-01 01:30:00.123456",
            Some("%Y-%m-%d %H:%M:%S%.f"),
        ),
        ("a date", "2024-01-01", Some("%Y-%m-%d")),
        ("epoch seconds", "1704072600", None),
        ("epoch seconds, decimal", "1704072600.25", None),
        ("epoch milliseconds", "1704072600123", None),
        ("epoch milliseconds, decimal", "1704072600123.5", None),
        ("epoch microseconds", "1704072600123456", None),
        ("epoch nanoseconds", "1704072600123456789", None),
    ];

    /// chrono's UTC instant in microseconds.
    fn chrono_micros(text: &str, format: Option<&str>) -> i64 {
        match format {
            Some(format) if format.contains('z') => DateTime::parse_from_str(text, format)
                .unwrap_or_else(|e| panic!("chrono cannot read {text}: {e}"))
                .timestamp_micros(),
            Some("%Y-%m-%d") => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp_micros(),
            Some(format) => NaiveDateTime::parse_from_str(text, format)
                .unwrap_or_else(|e| panic!("chrono cannot read {text}: {e}"))
                .and_utc()
                .timestamp_micros(),
            None => {
                let digits = text.split('.').next().unwrap().len();
                let (unit, per_second) = match digits {
                    0..=11 => (1.0, 1_000_000i64),
                    12..=14 => (1e3, 1_000),
                    15..=17 => (1e6, 1),
                    _ => (1e9, 0),
                };
                let whole: i64 = text.split('.').next().unwrap().parse().unwrap();
                let fraction: f64 = format!("0.{}", text.split('.').nth(1).unwrap_or("0"))
                    .parse()
                    .unwrap();
                let micros = if per_second == 0 {
                    whole / 1000
                } else {
                    whole * per_second + (fraction * 1e6 / unit).round() as i64
                };
                DateTime::from_timestamp_micros(micros)
                    .unwrap()
                    .timestamp_micros()
            }
        }
    }

    fn nsm_micros(text: &str) -> Option<i64> {
        match TimestampFamily::detect(text)? {
            TimestampFamily::Iso => parse_iso_micros(text),
            TimestampFamily::Epoch => parse_epoch_micros(text),
        }
    }

    #[test]
    fn every_shape_of_the_table_is_the_instant_chrono_reads() {
        for &(exporter, text, format) in SHAPES {
            let expected = chrono_micros(text, format);
            let got = nsm_micros(text).unwrap_or_else(|| panic!("{exporter}: {text} refused"));
            // Epoch decimals go through f64: within a microsecond.
            assert!(
                (got - expected).abs() <= 1,
                "{exporter}: {text}: nsm {got}, chrono {expected}"
            );
            let day = i32::try_from(expected.div_euclid(MICROS_PER_DAY)).unwrap();
            let family = TimestampFamily::detect(text).unwrap();
            assert_eq!(family.parse_day(text), Some(day), "{exporter}: {text}");
        }
    }

    #[test]
    fn the_readme_lists_every_shape() {
        let readme = include_str!("../../README.md");
        for &(exporter, text, _) in SHAPES {
            assert!(
                readme.contains(&format!("`{text}`")),
                "README has no `{text}` ({exporter})"
            );
        }
    }

    #[test]
    fn a_whole_hour_offset_moves_the_day() {
        // PostgreSQL's text for 2023-12-31 23:30 UTC in a session at +02.
        assert_eq!(day("2024-01-01 01:30:00+02").as_deref(), Some("2023-12-31"));
        assert_eq!(
            day("2024-01-01 00:30:00.123456+02").as_deref(),
            Some("2023-12-31")
        );
        assert_eq!(day("2024-01-31T23:30:00-05").as_deref(), Some("2024-02-01"));
    }

    #[test]
    fn iso_forms_convert_to_utc_days() {
        assert_eq!(day("2024-03-01").as_deref(), Some("2024-03-01"));
        assert_eq!(day("2024-03-01T23:59:59Z").as_deref(), Some("2024-03-01"));
        assert_eq!(day("2024-03-01 12:00:00").as_deref(), Some("2024-03-01"));
        // 23:30 at -02:00 is 01:30 UTC the next day.
        assert_eq!(
            day("2024-03-31T23:30:00-02:00").as_deref(),
            Some("2024-04-01")
        );
        assert_eq!(
            day("2024-03-31T23:30:00.123-0200").as_deref(),
            Some("2024-04-01")
        );
        // 00:30 at +05:30 is 19:00 UTC the previous day.
        assert_eq!(
            day("2024-03-01T00:30:00+05:30").as_deref(),
            Some("2024-02-29")
        );
        assert_eq!(
            day("2024-02-29T10:00:00.000000Z").as_deref(),
            Some("2024-02-29")
        );
    }

    #[test]
    fn epoch_units_by_magnitude() {
        assert_eq!(day("1709251200").as_deref(), Some("2024-03-01"));
        assert_eq!(day("1709251200000").as_deref(), Some("2024-03-01"));
        assert_eq!(day("1709251200000000").as_deref(), Some("2024-03-01"));
        assert_eq!(day("1709251200000000000").as_deref(), Some("2024-03-01"));
        assert_eq!(day("1709337599").as_deref(), Some("2024-03-01"));
        assert_eq!(day("-1").as_deref(), Some("1969-12-31"));
    }

    #[test]
    fn anything_outside_the_table_is_refused() {
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-02-30",
            "2024-03-01T25:00:00Z",
            "2024-03-01T12:60:00Z",
            "2024-03-01T12:00:61Z",
            "03/01/2024",
            "2024-3-1",
            "nan",
            "1e9",
            "2024-03-01T12:00:00 CET",
            "2024-03-01T12:00:00 PST",
            "2024-03-01T12:00:00+2",
            "2024-03-01T12:00:00+020",
            "2024-03-01T12:00:00+15:00",
            "2024-03-01T12:00:00+02:60",
            "2024-03-01T12:00:00.Z",
            "2024-03-01T12:00:00.1234567890Z",
            "2024-03-01T12:00:00Zjunk",
            "2024-03-01T12:00:00  +02",
            "2024-03-01T12",
            "2024-03-01T",
            "2024-03-01X12:00:00",
        ] {
            assert_eq!(day(bad), None, "{bad}");
        }
        assert_eq!(TimestampFamily::Epoch.parse_day("2024-03-01"), None);
        assert_eq!(TimestampFamily::Iso.parse_day("1709251200"), None);
    }

    #[test]
    fn daylight_saving_gaps_and_overlaps_follow_the_documented_rule() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let utc = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .timestamp_micros()
        };
        let local = |text: &str| parse_iso_micros_in(text, Some(berlin));
        // Winter (+01) and summer (+02).
        assert_eq!(
            local("2024-01-15 12:00:00"),
            Some(utc("2024-01-15T11:00:00Z"))
        );
        assert_eq!(
            local("2024-07-15 12:00:00"),
            Some(utc("2024-07-15T10:00:00Z"))
        );
        // 31 March 2024: 02:00-03:00 does not exist; 02:30 is read at +01, i.e. 03:30 CEST.
        assert_eq!(
            local("2024-03-31 02:30:00"),
            Some(utc("2024-03-31T01:30:00Z"))
        );
        assert_eq!(
            local("2024-03-31 03:00:00"),
            Some(utc("2024-03-31T01:00:00Z"))
        );
        // 27 October 2024: 02:00-03:00 happens twice; 02:30 is the first (CEST, +02).
        assert_eq!(
            local("2024-10-27 02:30:00"),
            Some(utc("2024-10-27T00:30:00Z"))
        );
        assert_eq!(
            local("2024-10-27 03:30:00"),
            Some(utc("2024-10-27T02:30:00Z"))
        );
        // An explicit zone wins over the default one; a date stays its calendar day.
        assert_eq!(
            local("2024-01-15 12:00:00Z"),
            Some(utc("2024-01-15T12:00:00Z"))
        );
        assert_eq!(
            parse_iso_day_in("2024-01-15", Some(berlin))
                .map(format_day)
                .as_deref(),
            Some("2024-01-15")
        );
        // Just after midnight local is the previous UTC day.
        assert_eq!(
            parse_iso_day_in("2024-02-01 00:30:00", Some(berlin))
                .map(format_day)
                .as_deref(),
            Some("2024-01-31")
        );
    }

    proptest! {
        /// Offsets of every written form against chrono's reading of the same instant.
        #[test]
        fn offsets_of_every_form_match_chrono(
            seconds in 0i64..4_102_444_800,
            fraction in proptest::option::of(0u32..1_000_000),
            east in any::<bool>(),
            hours in 0i64..=14,
            half in 0usize..3,
            form in 0usize..3,
            separator in prop_oneof![Just('T'), Just(' ')],
            spaced in any::<bool>(),
        ) {
            let minutes = [0, 30, 45][half];
            let total = hours * 60 + minutes;
            prop_assume!(total <= 14 * 60 && (east || total <= 12 * 60));
            let (hours, minutes) = (total / 60, total % 60);
            let sign = if east { '+' } else { '-' };
            let form = if minutes != 0 { form.max(1) } else { form };
            let zone = match form {
                0 => format!("{sign}{hours:02}"),
                1 => format!("{sign}{hours:02}:{minutes:02}"),
                _ => format!("{sign}{hours:02}{minutes:02}"),
            };
            let local = DateTime::from_timestamp(seconds, 0).unwrap().naive_utc();
            let fraction_text = fraction.map_or(String::new(), |f| format!(".{f:06}"));
            let text = format!(
                "{}{separator}{}{fraction_text}{}{zone}",
                local.format("%Y-%m-%d"),
                local.format("%H:%M:%S"),
                if spaced { " " } else { "" },
            );
            let offset = (if east { 1 } else { -1 }) * (total * 60) as i32;
            let expected = chrono::FixedOffset::east_opt(offset)
                .unwrap()
                .from_local_datetime(&local)
                .unwrap()
                .timestamp_micros()
                + i64::from(fraction.unwrap_or(0));
            prop_assert_eq!(parse_iso_micros(&text), Some(expected), "{}", text);
            prop_assert_eq!(
                parse_iso_day(&text),
                Some(i32::try_from(expected.div_euclid(MICROS_PER_DAY)).unwrap())
            );
        }
    }
}
