//! Calendar periods in UTC: months and ISO weeks, as dense integer indexes.
//!
//! Days are counted from 1970-01-01 (day 0, a Thursday). A month index is `year * 12 + month - 1`;
//! a week index is `floor((day + 3) / 7)`, so week `w` starts on Monday `7w - 3` and its Thursday
//! is day `7w`. A week window inside month periods belongs to the month holding its Thursday (the
//! ISO 8601 rule for weeks that straddle two years, applied to months): every week counts whole,
//! in exactly one month.

use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;

/// Average number of weeks in a month (365.2425 / 7 / 12), for converting month lags to weeks.
pub const WEEKS_PER_MONTH: f64 = 365.2425 / 7.0 / 12.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKind {
    Month,
    Week,
}

impl PeriodKind {
    pub fn name(self) -> &'static str {
        match self {
            PeriodKind::Month => "month",
            PeriodKind::Week => "week",
        }
    }

    /// The period index holding `day`.
    pub fn of_day(self, day: i32) -> i32 {
        match self {
            PeriodKind::Month => month_of_day(day),
            PeriodKind::Week => week_of_day(day),
        }
    }

    /// First day of period `index`.
    pub fn first_day(self, index: i32) -> i32 {
        match self {
            PeriodKind::Month => month_first_day(index),
            PeriodKind::Week => 7 * index - 3,
        }
    }

    /// Last day of period `index`.
    pub fn last_day(self, index: i32) -> i32 {
        self.first_day(index + 1) - 1
    }

    /// Human label: `2024-03` or `2024-W09`.
    pub fn label(self, index: i32) -> String {
        match self {
            PeriodKind::Month => {
                let year = index.div_euclid(12);
                let month = index.rem_euclid(12) + 1;
                format!("{year:04}-{month:02}")
            }
            PeriodKind::Week => {
                let monday = date_of_day(7 * index - 3);
                let iso = monday.iso_week();
                format!("{:04}-W{:02}", iso.year(), iso.week())
            }
        }
    }

    /// A lag given in months, expressed in this kind's periods.
    pub fn lag_from_months(self, months: u32) -> usize {
        match self {
            PeriodKind::Month => months as usize,
            PeriodKind::Week => (f64::from(months) * WEEKS_PER_MONTH).round() as usize,
        }
    }

    /// Position of period `index` within its year: the month (0–11) or the ISO week (0–51,
    /// week 53 folded onto week 52's season).
    pub fn season_of(self, index: i32) -> usize {
        match self {
            PeriodKind::Month => index.rem_euclid(12) as usize,
            PeriodKind::Week => {
                let week = date_of_day(7 * index - 3).iso_week().week() as usize;
                (week - 1).min(51)
            }
        }
    }

    /// Periods per year, for seasonal reasoning and "needs N more periods" messages.
    pub fn per_year(self) -> usize {
        match self {
            PeriodKind::Month => 12,
            PeriodKind::Week => 52,
        }
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a valid date")
}

/// Days since 1970-01-01 of a calendar date.
pub fn day_of_date(date: NaiveDate) -> i32 {
    (date - epoch()).num_days() as i32
}

/// Calendar date of a day number.
pub fn date_of_day(day: i32) -> NaiveDate {
    if day >= 0 {
        epoch() + Days::new(day as u64)
    } else {
        epoch() - Days::new(day.unsigned_abs() as u64)
    }
}

pub fn month_of_day(day: i32) -> i32 {
    let date = date_of_day(day);
    date.year() * 12 + date.month0() as i32
}

pub fn week_of_day(day: i32) -> i32 {
    (day + 3).div_euclid(7)
}

pub fn month_first_day(month: i32) -> i32 {
    let year = month.div_euclid(12);
    let month0 = month.rem_euclid(12) as u32;
    let date = NaiveDate::from_ymd_opt(year, month0 + 1, 1).expect("month index maps to a date");
    day_of_date(date)
}

/// The month a week window belongs to: the month of its Thursday.
pub fn month_of_week(week: i32) -> i32 {
    month_of_day(7 * week)
}

/// The period a week window belongs to, for periods of `kind`.
pub fn period_of_week(kind: PeriodKind, week: i32) -> i32 {
    match kind {
        PeriodKind::Month => month_of_week(week),
        PeriodKind::Week => week,
    }
}

/// Parse `YYYY-MM` into a month index.
pub fn parse_month_label(text: &str) -> Option<i32> {
    let (year, month) = text.split_once('-')?;
    if year.len() != 4 || month.len() != 2 {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    let month: i32 = month.parse().ok()?;
    (1..=12).contains(&month).then(|| year * 12 + month - 1)
}

/// Parse a `YYYY-MM-DD` date into a day number.
pub fn parse_date(text: &str) -> Option<i32> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(day_of_date)
}

/// Day number as `YYYY-MM-DD`.
pub fn format_day(day: i32) -> String {
    date_of_day(day).format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_a_thursday_in_week_zero() {
        assert_eq!(date_of_day(0).weekday(), chrono::Weekday::Thu);
        assert_eq!(week_of_day(0), 0);
        assert_eq!(week_of_day(-3), 0); // Monday 1969-12-29
        assert_eq!(week_of_day(-4), -1); // Sunday 1969-12-28
        assert_eq!(week_of_day(4), 1); // Monday 1970-01-05
    }

    #[test]
    fn month_labels_round_trip() {
        let march = parse_month_label("2024-03").unwrap();
        assert_eq!(PeriodKind::Month.label(march), "2024-03");
        assert_eq!(format_day(month_first_day(march)), "2024-03-01");
        assert_eq!(format_day(PeriodKind::Month.last_day(march)), "2024-03-31");
        assert_eq!(parse_month_label("2024-13"), None);
    }

    #[test]
    fn week_straddling_two_months_belongs_to_the_month_of_its_thursday() {
        // Monday 2024-01-29 .. Sunday 2024-02-04: Thursday is 2024-02-01, so February.
        let week = week_of_day(parse_date("2024-01-29").unwrap());
        assert_eq!(week, week_of_day(parse_date("2024-02-04").unwrap()));
        assert_eq!(PeriodKind::Month.label(month_of_week(week)), "2024-02");
        assert_eq!(PeriodKind::Week.label(week), "2024-W05");
        // ISO week 53 of 2020 (Monday 2020-12-28).
        let w53 = week_of_day(parse_date("2020-12-31").unwrap());
        assert_eq!(PeriodKind::Week.label(w53), "2020-W53");
    }

    #[test]
    fn week_lags_convert_from_months() {
        assert_eq!(PeriodKind::Week.lag_from_months(3), 13);
        assert_eq!(PeriodKind::Week.lag_from_months(12), 52);
        assert_eq!(PeriodKind::Month.lag_from_months(6), 6);
    }
}
