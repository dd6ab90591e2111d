//! Properties over generated inputs: timestamp parsing (and its polars mirror), period
//! bucketing, revenue spreading, and readers that never panic on arbitrary bytes.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use nsm::ingest::columns::EventColumns;
use nsm::ingest::events::{load_activity, EventOptions, EventSource};
use nsm::ingest::revenue::{
    load_revenue, Revenue, RevenueEntry, RevenueOptions, RevenueShape, Span, Start,
};
use nsm::ingest::source::{for_each_record, resolve, Visit};
use nsm::ingest::timestamp::{
    fast_day_expr, fast_format, parse_epoch_day, parse_iso_day, TimestampFamily,
};
use nsm::period::{self, PeriodKind};
use nsm::progress::Progress;
use polars::prelude::*;
use proptest::prelude::*;

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
}

/// The polars expression's days for these texts, `None` where it gives null.
fn expr_days(family: TimestampFamily, texts: &[String]) -> Vec<Option<i32>> {
    let frame = df!("t" => texts).unwrap();
    let out = frame
        .lazy()
        .select([family.day_expr(col("t"), None).alias("day")])
        .collect()
        .unwrap();
    out.column("day")
        .unwrap()
        .cast(&DataType::Int32)
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .collect()
}

/// The fixed-format expression's days for these texts.
fn fast_days(format: &'static str, texts: &[String]) -> Vec<Option<i32>> {
    let frame = df!("t" => texts).unwrap();
    let out = frame
        .lazy()
        .select([fast_day_expr(col("t"), format).alias("day")])
        .collect()
        .unwrap();
    out.column("day").unwrap().i32().unwrap().iter().collect()
}

/// An ISO 8601 text for a local date-time with an offset in minutes, in one of the accepted
/// spellings, and the UTC day it denotes.
fn iso_text(seconds: i64, millis: u32, offset: i32, style: u8, sep: char) -> (String, i32) {
    let local = epoch() + Duration::seconds(seconds);
    let utc = local - Duration::minutes(i64::from(offset));
    let expected = period::day_of_date(utc.date());
    let (sign, abs) = if offset < 0 {
        ('-', -offset)
    } else {
        ('+', offset)
    };
    let (h, m) = (abs / 60, abs % 60);
    let base = local.format("%Y-%m-%d").to_string();
    let time = local.format("%H:%M:%S").to_string();
    let fraction = if millis > 0 {
        format!(".{millis:03}")
    } else {
        String::new()
    };
    let text = match style % 5 {
        0 => format!("{base}{sep}{time}{fraction}Z"),
        1 => format!("{base}{sep}{time}{fraction}{sign}{h:02}:{m:02}"),
        2 => format!("{base}{sep}{time}{fraction}{sign}{h:02}{m:02}"),
        // Naive date-times are UTC, and a date alone is its own day.
        3 => {
            return (
                format!("{base}{sep}{time}{fraction}"),
                period::day_of_date(local.date()),
            )
        }
        _ => return (base, period::day_of_date(local.date())),
    };
    let expected = if style.is_multiple_of(5) {
        period::day_of_date(local.date())
    } else {
        expected
    };
    (text, expected)
}

/// Text near the timestamp grammar, so that generated strings reach deep into the parsers.
fn timestampish() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "0123456789-:T Z+.z/xe\u{e9}".chars().collect();
    prop::collection::vec(prop::sample::select(alphabet), 0..32)
        .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn iso_timestamps_parse_to_their_utc_day(
        seconds in -2_000_000_000i64..5_000_000_000,
        millis in 0u32..1000,
        quarter_hours in -56i32..=56,
        style in 0u8..5,
        sep in prop::sample::select(vec!['T', ' ']),
    ) {
        let (text, expected) = iso_text(seconds, millis, quarter_hours * 15, style, sep);
        prop_assert_eq!(parse_iso_day(&text), Some(expected), "{}", text);
        prop_assert_eq!(TimestampFamily::detect(&text), Some(TimestampFamily::Iso));
        prop_assert_eq!(expr_days(TimestampFamily::Iso, std::slice::from_ref(&text)), vec![Some(expected)]);
        // The fixed-format reader used when a file's timestamps all share one shape.
        if let Some(format) = fast_format(&text) {
            prop_assert_eq!(fast_days(format, &[text]), vec![Some(expected)]);
        }
    }

    #[test]
    fn epoch_seconds_and_milliseconds_parse_to_their_day(
        seconds in -3_000_000_000i64..5_000_000_000,
        millis in 0i64..1000,
        as_millis in any::<bool>(),
    ) {
        let expected = (seconds.div_euclid(86_400)) as i32;
        let text = if as_millis && seconds >= 100_000_000 {
            (seconds * 1000 + millis).to_string()
        } else {
            seconds.to_string()
        };
        prop_assert_eq!(parse_epoch_day(&text), Some(expected), "{}", text);
        prop_assert_eq!(expr_days(TimestampFamily::Epoch, &[text]), vec![Some(expected)]);
    }

    /// Whatever the text, the row locator (Rust) and the one pass (polars) agree on the day or
    /// on the row being bad, and neither panics.
    #[test]
    fn rust_parser_and_polars_expression_agree_on_any_text(
        texts in prop::collection::vec(timestampish(), 1..16),
        valid in prop::collection::vec(
            (-2_000_000_000i64..5_000_000_000, 0u8..5, 0usize..30, timestampish()),
            0..8,
        ),
    ) {
        // Valid timestamps with a cut or a splice test the edges of the grammar.
        let mut texts = texts;
        for (seconds, style, cut, splice) in valid {
            let (text, _) = iso_text(seconds, 0, 60, style, 'T');
            let cut = cut.min(text.len());
            texts.push(format!("{}{}", &text[..cut], splice));
            texts.push(text[..cut].to_string());
        }
        for family in [TimestampFamily::Iso, TimestampFamily::Epoch] {
            let rust: Vec<Option<i32>> = texts.iter().map(|t| family.parse_day(t)).collect();
            prop_assert_eq!(&rust, &expr_days(family, &texts), "{:?} {:?}", family, texts);
        }
        // Where the fixed-format reader accepts a text, it agrees with the general parser.
        for text in &texts {
            if let Some(format) = fast_format(text) {
                if let [Some(day)] = fast_days(format, std::slice::from_ref(text))[..] {
                    prop_assert_eq!(parse_iso_day(text), Some(day), "{}", text);
                }
            }
        }
    }

    #[test]
    fn every_day_falls_in_exactly_one_period(day in -200_000i32..200_000) {
        for kind in [PeriodKind::Month, PeriodKind::Week] {
            let p = kind.of_day(day);
            prop_assert!(kind.first_day(p) <= day && day <= kind.last_day(p));
            // Periods tile time: each ends the day before the next begins.
            prop_assert_eq!(kind.last_day(p) + 1, kind.first_day(p + 1));
            prop_assert_eq!(kind.of_day(kind.first_day(p)), p);
            prop_assert_eq!(kind.of_day(kind.last_day(p)), p);
        }
        let date = period::date_of_day(day);
        prop_assert_eq!(period::day_of_date(date), day);
        // Months are calendar months; weeks run Monday to Sunday and belong to the month of
        // their Thursday.
        let month = period::month_of_day(day);
        prop_assert_eq!(month, date.year() * 12 + date.month0() as i32);
        let week = period::week_of_day(day);
        let monday = period::date_of_day(PeriodKind::Week.first_day(week));
        prop_assert_eq!(monday.weekday(), Weekday::Mon);
        prop_assert!(monday <= date && date < monday + Duration::days(7));
        let thursday = monday + Duration::days(3);
        prop_assert_eq!(
            period::month_of_week(week),
            thursday.year() * 12 + thursday.month0() as i32
        );
    }

    #[test]
    fn spread_revenue_sums_to_the_amounts(
        entries in prop::collection::vec(
            (-1_000_000.0f64..1_000_000.0, 1u32..37, 0u8..3, 0i32..3_000, 0u8..4),
            1..30,
        ),
    ) {
        // Shapes: a month start, a day start covering whole months, a day start covering
        // days (a billing line item's service period; zero days is one day).
        let entries: Vec<RevenueEntry> = entries
            .into_iter()
            .map(|(amount, months, shape, start, customer)| RevenueEntry {
                customer: Some(format!("c{customer}")),
                start: if shape == 0 {
                    Start::Month(24_000 + start / 30)
                } else {
                    Start::Day(18_000 + start)
                },
                span: if shape == 2 {
                    Span::Days(18_000 + start + months as i32 * 11 - 11)
                } else {
                    Span::Months(months)
                },
                amount,
            })
            .collect();
        let total: f64 = entries.iter().map(|e| e.amount).sum();
        let scale: f64 = entries.iter().map(|e| e.amount.abs()).sum::<f64>().max(1.0);
        let revenue = Revenue {
            shape: RevenueShape::PerCustomer,
            rows: entries.len() as u64,
            entries: entries.clone(),
            source: "generated".into(),
            notes: Vec::new(),
        };
        for kind in [PeriodKind::Month, PeriodKind::Week] {
            let spread = revenue.spread(kind);
            let spread_total: f64 = spread.total.values().sum();
            prop_assert!((spread_total - total).abs() <= 1e-9 * scale, "{kind:?}: {spread_total} vs {total}");
            for (customer, periods) in spread.per_customer.as_ref().unwrap() {
                let own: f64 = entries
                    .iter()
                    .filter(|e| e.customer.as_deref() == Some(customer.as_str()))
                    .map(|e| e.amount)
                    .sum();
                let spread_own: f64 = periods.values().sum();
                prop_assert!((spread_own - own).abs() <= 1e-9 * scale);
            }
        }
    }
}

fn readers_survive(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.csv");
    std::fs::write(&path, bytes).unwrap();
    // An empty file is refused when resolved; anything else goes on to the readers.
    let Ok(files) = resolve(std::slice::from_ref(&path), "events") else {
        assert!(bytes.is_empty());
        return;
    };
    let options = EventOptions {
        columns: EventColumns::default(),
        delimiter: b',',
        as_of: None,
        skip_bad_rows: true,
        timezone: None,
        format: None,
    };
    // Ok or an error, never a panic.
    let _ = for_each_record(&files[0], b',', |_| Ok(Visit::Continue));
    let _ = load_revenue(&files[0], b',', None, &RevenueOptions::default());
    let quiet = Progress::new(true);
    let _ = load_activity(&EventSource::Files(files.clone()), &options, &quiet);
    let strict = EventOptions {
        skip_bad_rows: false,
        ..options
    };
    if let Err(e) = load_activity(&EventSource::Files(files), &strict, &quiet) {
        assert!(!e.to_string().is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn readers_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        readers_survive(&bytes);
    }

    #[test]
    fn readers_never_panic_on_arbitrary_rows_under_a_valid_header(
        rows in prop::collection::vec(
            prop::collection::vec(
                prop::sample::select(b"0123456789-:TZ ,;\"\n\r\tabu.\xc3\xa9\xff".to_vec()),
                0..60,
            ),
            0..12,
        ),
        header in 0usize..4,
    ) {
        let headers: [&[u8]; 4] = [
            b"timestamp,user_id,account_id,event,value\n",
            b"date,customer_id,amount,months\n",
            b"customer,status,amount,currency,period_start,period_end,amount_refunded\n",
            b"customer-external-id,date,activity-mrr-movement,currency\n",
        ];
        let mut bytes = headers[header].to_vec();
        for row in rows {
            bytes.extend(row);
            bytes.push(b'\n');
        }
        readers_survive(&bytes);
    }
}
