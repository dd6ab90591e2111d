//! Timestamps to UTC days, in two implementations that must agree: a polars expression for the
//! one pass over the events, and a plain function used to locate a bad row and to parse revenue.
//!
//! Accepted forms (SPEC "Inputs"): ISO 8601 date-times with `Z`, `±HH:MM` or `±HHMM` offsets
//! (converted to UTC), naive date-times (read as UTC), dates, and epoch seconds or milliseconds.
//! A column holds one family: either ISO text or epoch numbers. Epoch values with a magnitude of
//! at least 1e11 are milliseconds (1e11 seconds is the year 5138; 1e11 ms is 1973-03-03).

use polars::prelude::*;

use crate::period::parse_date;

const MINUTES_PER_DAY: i32 = 24 * 60;
const SECONDS_PER_DAY: f64 = 86_400.0;
const EPOCH_MILLIS_FROM: f64 = 1e11;

/// Why a text is refused as a timestamp, in every message that says so.
pub const NOT_A_TIMESTAMP: &str = "not a timestamp nsm can read (ISO 8601 such as 2024-03-01T12:00:00Z, a date, or epoch seconds/milliseconds)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFamily {
    /// `2024-03-01`, `2024-03-01T12:00:00Z`, `2024-03-01 12:00:00.5+02:00`, ...
    Iso,
    /// `1709251200` (seconds) or `1709251200000` (milliseconds).
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
            Self::Epoch => "epoch seconds or milliseconds",
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

    /// The same parse as [`Self::parse_day`] as a polars expression over a string column;
    /// unparsable values become null.
    pub fn day_expr(self, text: Expr) -> Expr {
        match self {
            Self::Iso => iso_day_expr(text),
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

/// Epoch seconds or milliseconds to a UTC day.
pub fn parse_epoch_day(text: &str) -> Option<i32> {
    let looks_numeric = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == '.');
    if !looks_numeric {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let seconds = if value.abs() >= EPOCH_MILLIS_FROM {
        value / 1000.0
    } else {
        value
    };
    let day = (seconds / SECONDS_PER_DAY).floor();
    (day.abs() < f64::from(i32::MAX)).then_some(day as i32)
}

/// Epoch text to UTC days, mirroring [`parse_epoch_day`]: trimmed, only digits, `-` and `.`.
fn epoch_day_expr(raw: Expr) -> Expr {
    let text = raw.str().strip_chars(lit(NULL));
    // Stripping every digit, `-` and `.` from both ends leaves nothing only when the text
    // consists of them.
    let numeric = text
        .clone()
        .str()
        .strip_chars(lit("0123456789-."))
        .eq(lit(""))
        .and(text.clone().str().len_bytes().gt(lit(0)));
    when(numeric)
        .then(epoch_seconds_to_day(text.cast(DataType::Float64)))
        .otherwise(lit(NULL).cast(DataType::Int32))
}

/// A numeric epoch column (seconds or milliseconds) to UTC days.
pub fn epoch_seconds_to_day(value: Expr) -> Expr {
    let seconds = when(value.clone().abs().gt_eq(lit(EPOCH_MILLIS_FROM)))
        .then(value.clone() / lit(1000.0))
        .otherwise(value.clone());
    when(value.is_finite())
        .then(
            (seconds / lit(SECONDS_PER_DAY))
                .floor()
                .cast(DataType::Int32),
        )
        .otherwise(lit(NULL).cast(DataType::Int32))
}

/// Where an offset starts, if the text ends with one: `(sign, hours, minutes)`.
fn iso_offset_minutes(text: &str) -> Option<i32> {
    let bytes = text.as_bytes();
    let len = bytes.len();
    let sign = |b: u8| match b {
        b'+' => Some(1),
        b'-' => Some(-1),
        _ => None,
    };
    let two = |at: usize| -> Option<i32> { text.get(at..at + 2)?.parse().ok() };
    if matches!(bytes[len - 1], b'Z' | b'z') {
        return Some(0);
    }
    if len >= 22 && bytes[len - 3] == b':' {
        if let Some(s) = sign(bytes[len - 6]) {
            return Some(s * (two(len - 5)? * 60 + two(len - 2)?));
        }
    }
    if len >= 21 {
        if let Some(s) = sign(bytes[len - 5]) {
            return Some(s * (two(len - 4)? * 60 + two(len - 2)?));
        }
    }
    Some(0)
}

/// ISO 8601 date or date-time to a UTC day. Mirrors [`iso_day_expr`] rule for rule.
pub fn parse_iso_day(text: &str) -> Option<i32> {
    if !text.is_ascii() {
        return None;
    }
    let date = parse_date(text.get(0..10)?)?;
    let len = text.len();
    if len == 10 {
        return Some(date);
    }
    if len < 16 {
        return None;
    }
    let bytes = text.as_bytes();
    if !matches!(bytes[10], b'T' | b' ') || bytes[13] != b':' {
        return None;
    }
    let hour: i32 = text.get(11..13)?.parse().ok()?;
    let minute: i32 = text.get(14..16)?.parse().ok()?;
    if !(0..24).contains(&hour) || !(0..60).contains(&minute) {
        return None;
    }
    let offset = iso_offset_minutes(text)?;
    let utc_minutes = hour * 60 + minute - offset;
    Some(date + utc_minutes.div_euclid(MINUTES_PER_DAY))
}

fn int_at(text: &Expr, offset: i64, length: u64) -> Expr {
    text.clone()
        .str()
        .slice(lit(offset), lit(length))
        .cast(DataType::Int32)
}

fn char_at(text: &Expr, offset: i64) -> Expr {
    text.clone().str().slice(lit(offset), lit(1u64))
}

fn sign_of(ch: Expr) -> Expr {
    when(ch.eq(lit("-"))).then(lit(-1)).otherwise(lit(1))
}

fn is_sign(ch: Expr) -> Expr {
    ch.clone().eq(lit("+")).or(ch.eq(lit("-")))
}

/// Polars version of [`parse_iso_day`]: slices at fixed positions, so it is one vectorised pass
/// and needs no time-zone database.
fn iso_day_expr(raw: Expr) -> Expr {
    let text = raw.str().strip_chars(lit(NULL));
    let len = text.clone().str().len_bytes().cast(DataType::Int64);
    let date = text
        .clone()
        .str()
        .slice(lit(0i64), lit(10u64))
        .str()
        .to_date(StrptimeOptions {
            format: Some("%Y-%m-%d".into()),
            strict: false,
            exact: true,
            cache: true,
        })
        .cast(DataType::Int32);
    let hour = int_at(&text, 11, 2);
    let minute = int_at(&text, 14, 2);
    let separator = char_at(&text, 10);
    let time_ok = separator
        .clone()
        .eq(lit("T"))
        .or(separator.eq(lit(" ")))
        .and(char_at(&text, 13).eq(lit(":")))
        .and(hour.clone().gt_eq(lit(0)))
        .and(hour.clone().lt(lit(24)))
        .and(minute.clone().gt_eq(lit(0)))
        .and(minute.clone().lt(lit(60)));
    let last = char_at(&text, -1);
    let colon_sign = char_at(&text, -6);
    let compact_sign = char_at(&text, -5);
    let offset = when(last.clone().eq(lit("Z")).or(last.eq(lit("z"))))
        .then(lit(0))
        .when(
            len.clone()
                .gt_eq(lit(22))
                .and(char_at(&text, -3).eq(lit(":")))
                .and(is_sign(colon_sign.clone())),
        )
        .then(sign_of(colon_sign) * (int_at(&text, -5, 2) * lit(60) + int_at(&text, -2, 2)))
        .when(
            len.clone()
                .gt_eq(lit(21))
                .and(is_sign(compact_sign.clone())),
        )
        .then(sign_of(compact_sign) * (int_at(&text, -4, 2) * lit(60) + int_at(&text, -2, 2)))
        .otherwise(lit(0));
    let utc_minutes = hour * lit(60) + minute - offset;
    let ascii = text
        .clone()
        .str()
        .len_bytes()
        .eq(text.clone().str().len_chars());
    when(len.clone().eq(lit(10)).and(ascii.clone()))
        .then(date.clone())
        .when(len.gt_eq(lit(16)).and(time_ok).and(ascii))
        .then(date + utc_minutes.floor_div(lit(MINUTES_PER_DAY)))
        .otherwise(lit(NULL).cast(DataType::Int32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period::format_day;

    fn day(text: &str) -> Option<String> {
        TimestampFamily::detect(text)
            .and_then(|family| family.parse_day(text))
            .map(format_day)
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
    fn epoch_seconds_and_milliseconds() {
        assert_eq!(day("1709251200").as_deref(), Some("2024-03-01"));
        assert_eq!(day("1709251200000").as_deref(), Some("2024-03-01"));
        assert_eq!(day("1709337599").as_deref(), Some("2024-03-01"));
        assert_eq!(day("-1").as_deref(), Some("1969-12-31"));
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-03-01T25:00:00Z",
            "03/01/2024",
            "nan",
        ] {
            assert_eq!(day(bad), None, "{bad}");
        }
        assert_eq!(TimestampFamily::Epoch.parse_day("2024-03-01"), None);
        assert_eq!(TimestampFamily::Iso.parse_day("1709251200"), None);
    }
}
