//! The embedded demo: a seeded synthetic B2B SaaS with planted truth, 42 months
//! (2022-01 to 2025-06), about 1,800 accounts, per-customer revenue with monthly and annual
//! contracts.
//!
//! What is planted, account by account:
//! - Engagement moves with a macro trend plus noise. An account's weeks are power weeks (5+
//!   meetings) about as often as a Poisson count at its meeting rate reaches 5, and otherwise
//!   it books its own steady 0 to 4: power use is a threshold, not just more meetings. An
//!   account's seats expand with its power use (weeks with 5+ meetings) six months earlier,
//!   and accounts that stopped being power users decide to leave more often: revenue follows
//!   power use by about six months.
//! - An account that decides to leave disengages for three months, then stops paying. A churn
//!   wave (a competitor's launch) takes paying customers down from 2023-11 to 2024-06.
//! - `accounts_5plus_meetings` (accounts booking 5+ meetings in a week) is the planted star.
//! - `signups` keep rising through the churn wave (marketing spend), `page_views` come mostly
//!   from accounts about to churn (they thrash around help pages), `registered_users` is
//!   cumulative: all three are vanity.
//! - `reports_exported` follows revenue three months later (finance exports scale with
//!   billing): it lags. `settings_changes` is pure noise.

use std::fmt::Write as _;

use anyhow::Result;
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::candidates::config::Config;
use crate::candidates::{Candidate, Entity, EventFilter, Kind, Rollup, Threshold, Window};
use crate::ingest::columns::EventColumns;
use crate::ingest::revenue::{Revenue, RevenueEntry, RevenueShape, Span, Start};
use crate::period;

pub(crate) const DEMO_SEED: u64 = 20_220_101;
pub(crate) const STAR: &str = "accounts_5plus_meetings";
const FIRST_MONTH: (i32, u32) = (2022, 1);
const MONTHS: usize = 42;
const LEAD: usize = 6;
const SEAT_PRICE: f64 = 40.0;

/// One generated event, already as the text a CSV export would hold.
pub(crate) struct EventRow {
    pub(crate) timestamp: String,
    pub(crate) user_id: String,
    pub(crate) account_id: String,
    pub(crate) event: &'static str,
    pub(crate) value: String,
}

pub(crate) struct DemoData {
    pub(crate) events: Vec<EventRow>,
    /// `date,customer_id,amount,months` lines without the header, in file order.
    pub(crate) revenue_lines: Vec<(String, String, String, String)>,
    pub(crate) config: Config,
}

fn normal<R: Rng>(rng: &mut R) -> f64 {
    // Box–Muller; 1 - u keeps the logarithm finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn poisson<R: Rng>(rng: &mut R, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        return (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as u32;
    }
    // Knuth's multiplication method.
    let limit = (-lambda).exp();
    let mut product = rng.random::<f64>();
    let mut k = 0;
    while product > limit {
        product *= rng.random::<f64>();
        k += 1;
    }
    k
}

struct Account {
    id: String,
    users: u32,
    signup_month: usize,
    signup_day: u32,
    paying: bool,
    annual: bool,
    /// First month not paying any more, once the account has decided to leave.
    churn_month: Option<usize>,
    /// Trial accounts stop using the product at some point.
    active_until: usize,
    meeting_rate: f64,
    /// Meetings in a week that is not a power week.
    steady: u32,
    /// Share of the month's weeks with 5+ meetings, per data month.
    power_share: Vec<f64>,
}

impl Account {
    fn paying_in(&self, m: usize) -> bool {
        self.paying && m >= self.signup_month && self.churn_month.is_none_or(|c| m < c)
    }

    fn active_in(&self, m: usize) -> bool {
        m >= self.signup_month
            && if self.paying {
                self.paying_in(m)
            } else {
                m <= self.active_until
            }
    }

    /// Power use `lag` months before `m` (the earliest month known, before that).
    fn power_before(&self, m: usize, lag: usize) -> f64 {
        let at = m.saturating_sub(lag).max(self.signup_month);
        self.power_share.get(at).copied().unwrap_or(0.0)
    }
}

fn month_index(m: usize) -> i32 {
    FIRST_MONTH.0 * 12 + FIRST_MONTH.1 as i32 - 1 + m as i32
}

/// Day number of day `d` (1-based, clamped to 28) of data month `m`.
fn day_in_month(m: usize, d: u32) -> i32 {
    period::month_first_day(month_index(m)) + d.clamp(1, 28) as i32 - 1
}

/// Macro engagement: log-level per data month, a trend plus mean-reverting noise.
fn engagement<R: Rng>(rng: &mut R) -> Vec<f64> {
    let mut noise = 0.0;
    (0..MONTHS)
        .map(|m| {
            noise = 0.7 * noise + 0.07 * normal(rng);
            0.006 * m as f64 + noise
        })
        .collect()
}

/// Extra monthly churn hazard of the planted churn wave (a competitor's launch): decisions in
/// 2023-07..2024-02 (data months 18..=25), so customers leave 2023-11..2024-06.
fn churn_wave(data_month: usize) -> f64 {
    if (18..=25).contains(&data_month) {
        0.1
    } else {
        0.0
    }
}

/// Months between deciding to leave and not paying any more; the account disengages in the
/// months in between.
const NOTICE: usize = 3;
const EXISTING_CUSTOMERS: usize = 250;
const POWER_MEETINGS: u32 = 5;

pub(crate) fn generate() -> DemoData {
    let mut rng = ChaCha8Rng::seed_from_u64(DEMO_SEED);
    let log_g = engagement(&mut rng);
    let first_day = day_in_month(0, 1);
    let end_day = period::month_first_day(month_index(MONTHS));
    let stamp = |rng: &mut ChaCha8Rng, day: i32| -> String {
        let seconds: u32 = rng.random_range(0..86_400);
        format!(
            "{}T{:02}:{:02}:{:02}Z",
            period::format_day(day),
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )
    };
    let user_of =
        |a: &Account, rng: &mut ChaCha8Rng| format!("{}-u{}", a.id, rng.random_range(1..=a.users));
    let mut accounts: Vec<Account> = Vec::new();
    let mut events = Vec::new();
    let mut revenue_lines = Vec::new();
    let mut revenue_by_month = vec![0.0; MONTHS];
    // The customers the company already had when the data starts (they signed up earlier).
    for _ in 0..EXISTING_CUSTOMERS {
        let users = rng.random_range(2..=4);
        accounts.push(Account {
            id: format!("acct-{:05}", accounts.len() + 1),
            users,
            signup_month: 0,
            signup_day: rng.random_range(1..=28),
            paying: true,
            annual: false,
            churn_month: None,
            active_until: MONTHS,
            meeting_rate: 3.2 * (0.5 * normal(&mut rng)).exp() * (f64::from(users) / 3.0).powf(0.3),
            steady: rng.random_range(0..POWER_MEETINGS),
            power_share: Vec::new(),
        });
    }
    let mut signup_base = 24.0;
    for m in 0..MONTHS {
        // Signups grow steadily; a marketing push through the churn wave adds trial accounts
        // that never convert.
        signup_base *= 1.015;
        let core = (signup_base * (1.0 + 0.01 * normal(&mut rng))).round() as usize;
        let push = if (20..=32).contains(&m) {
            1.15f64.powi(m as i32 - 19) - 1.0
        } else {
            0.0
        };
        let trials = (core as f64 * push).round() as usize;
        for k in 0..core + trials {
            let users = rng.random_range(2..=4);
            let paying = k < core && rng.random::<f64>() < 0.6;
            let id = format!("acct-{:05}", accounts.len() + 1);
            let signup_day = rng.random_range(1..=28);
            for u in 1..=users {
                let day = day_in_month(m, signup_day) + (u as i32 - 1) * 2;
                if day < end_day {
                    events.push(EventRow {
                        timestamp: stamp(&mut rng, day),
                        user_id: format!("{id}-u{u}"),
                        account_id: id.clone(),
                        event: "signed_up",
                        value: String::new(),
                    });
                }
            }
            accounts.push(Account {
                id,
                users,
                signup_month: m,
                signup_day,
                paying,
                annual: paying && rng.random::<f64>() < 0.3,
                churn_month: None,
                active_until: m + 2 + poisson(&mut rng, 8.0) as usize,
                meeting_rate: 3.2
                    * (0.5 * normal(&mut rng)).exp()
                    * (f64::from(users) / 3.0).powf(0.3),
                steady: rng.random_range(0..POWER_MEETINGS),
                power_share: Vec::new(),
            });
        }
        // The weeks of this month (by their Thursday), as nsm counts them.
        let weeks: Vec<i32> = (period::week_of_day(day_in_month(m, 1)) - 1
            ..=period::week_of_day(day_in_month(m, 28)) + 1)
            .filter(|w| period::month_of_week(*w) == month_index(m))
            .collect();
        let g = log_g[m].exp();
        for a in accounts.iter_mut() {
            a.power_share.resize(m + 1, 0.0);
            if !a.active_in(m) {
                continue;
            }
            let leaving = a.churn_month.is_some_and(|c| c > m);
            let health = if leaving { 0.25 } else { 1.0 };
            // Trial accounts book meetings too, rarely five a week.
            let trial = if a.paying { 1.0 } else { 0.4 };
            let mut power_weeks = 0;
            for week in &weeks {
                let monday = 7 * week - 3;
                // A power week (5+ meetings) comes as often as a Poisson count at the account's
                // rate would reach 5; any other week the account books its own steady number.
                let rate = a.meeting_rate * g * health * trial;
                let below: f64 = (0..POWER_MEETINGS)
                    .map(|k| {
                        (-rate).exp() * rate.powi(k as i32)
                            / (1..=k).map(f64::from).product::<f64>()
                    })
                    .sum();
                let meetings = if rng.random::<f64>() < 1.0 - below {
                    POWER_MEETINGS + poisson(&mut rng, 1.0)
                } else if rng.random::<f64>() < 0.7 {
                    a.steady.min(POWER_MEETINGS - 1)
                } else {
                    rng.random_range(0..POWER_MEETINGS)
                };
                power_weeks += usize::from(meetings >= POWER_MEETINGS);
                // Accounts on their way out thrash around the help pages.
                let views = poisson(
                    &mut rng,
                    0.3 * f64::from(a.users) * if leaving { 6.0 } else { 1.0 },
                );
                for (event, count) in [("meeting_booked", meetings), ("page_viewed", views)] {
                    for _ in 0..count {
                        let day = monday + rng.random_range(0..7);
                        if day < first_day || day >= end_day {
                            continue;
                        }
                        let value = if event == "meeting_booked" {
                            format!("{}", 15 * rng.random_range(1..=4))
                        } else {
                            String::new()
                        };
                        let timestamp = stamp(&mut rng, day);
                        let user_id = user_of(a, &mut rng);
                        events.push(EventRow {
                            timestamp,
                            user_id,
                            account_id: a.id.clone(),
                            event,
                            value,
                        });
                    }
                }
            }
            a.power_share[m] = power_weeks as f64 / weeks.len().max(1) as f64;
            // Deciding to leave: more likely for accounts that stopped being power users three
            // months ago, and in the wave. Annual plans can only leave at renewal.
            if a.paying && a.churn_month.is_none() {
                let hazard = 0.006 + 0.03 * (1.0 - a.power_before(m, 3)) + churn_wave(m);
                let leave_at = m + 1 + NOTICE;
                let may_leave = !a.annual || (leave_at - a.signup_month).is_multiple_of(12);
                if may_leave && rng.random::<f64>() < hazard {
                    a.churn_month = Some(leave_at);
                }
            }
        }
        // Revenue: seats, expanded by power use six months earlier.
        for a in accounts.iter().filter(|a| a.paying_in(m)) {
            let mrr = SEAT_PRICE * f64::from(a.users) * (1.0 + 1.5 * a.power_before(m, LEAD));
            let due = !a.annual || (m - a.signup_month) % 12 == 0;
            if !due {
                continue;
            }
            let (amount, months) = if a.annual {
                (format!("{:.2}", 12.0 * mrr), "12")
            } else {
                (format!("{mrr:.2}"), "")
            };
            let value: f64 = amount.parse().unwrap_or(0.0);
            let covered = if a.annual { 12 } else { 1 };
            for slot in revenue_by_month.iter_mut().skip(m).take(covered) {
                *slot += value / covered as f64;
            }
            revenue_lines.push((
                period::format_day(day_in_month(m, a.signup_day)),
                a.id.clone(),
                amount,
                months.to_string(),
            ));
        }
        // Month-level events: reports follow revenue three months earlier; settings are noise.
        let live: Vec<usize> = (0..accounts.len())
            .filter(|&i| accounts[i].paying_in(m))
            .collect();
        if live.is_empty() {
            continue;
        }
        let reports = poisson(&mut rng, revenue_by_month[m.saturating_sub(3)] / 40.0);
        let settings_rate = 300.0 * (0.35 * normal(&mut rng)).exp();
        let settings = poisson(&mut rng, settings_rate);
        for (event, count) in [("report_exported", reports), ("settings_changed", settings)] {
            for _ in 0..count {
                let a = &accounts[live[rng.random_range(0..live.len())]];
                let day = day_in_month(m, rng.random_range(1..=28));
                events.push(EventRow {
                    timestamp: stamp(&mut rng, day),
                    user_id: user_of(a, &mut rng),
                    account_id: a.id.clone(),
                    event,
                    value: String::new(),
                });
            }
        }
    }
    revenue_lines.sort();
    events.sort_by(|a, b| {
        a.timestamp
            .cmp(&b.timestamp)
            .then_with(|| a.user_id.cmp(&b.user_id))
    });
    DemoData {
        events,
        revenue_lines,
        config: demo_config(),
    }
}

fn candidate(name: &str, kind: Kind, description: &str) -> Candidate {
    Candidate {
        name: name.into(),
        kind,
        description: Some(description.into()),
    }
}

/// The demo's nsm.toml: the planted metrics and the usual suspects.
pub(crate) fn demo_config() -> Config {
    let one = EventFilter::one;
    let candidates = vec![
        candidate(
            STAR,
            Kind::ThresholdEntities {
                entity: Entity::Account,
                filter: one("meeting_booked"),
                window: Window::Week,
                rollup: Rollup::Mean,
                threshold: Threshold::MinCount(5),
            },
            "accounts booking 5+ meetings in a week (weekly, averaged over the month)",
        ),
        candidate(
            "meetings_booked",
            Kind::EventCount {
                filter: one("meeting_booked"),
            },
            "meetings booked",
        ),
        candidate(
            "meeting_minutes",
            Kind::ValueSum {
                filter: one("meeting_booked"),
            },
            "minutes of meetings booked",
        ),
        candidate(
            "teams_3plus_meeting",
            Kind::TeamEntities {
                filter: one("meeting_booked"),
                window: Window::Week,
                rollup: Rollup::Mean,
                min_members: 3,
            },
            "accounts with 3+ members booking meetings in a week",
        ),
        candidate(
            "weekly_active_users",
            Kind::ActiveEntities {
                entity: Entity::User,
                filter: EventFilter::any(),
                window: Window::Week,
                rollup: Rollup::Mean,
            },
            "users with any event in a week (averaged over the month)",
        ),
        candidate(
            "active_accounts",
            Kind::ActiveEntities {
                entity: Entity::Account,
                filter: EventFilter::any(),
                window: Window::Period,
                rollup: Rollup::Mean,
            },
            "accounts with any event in the month",
        ),
        candidate(
            "meetings_per_active_account",
            Kind::Ratio {
                numerator: "meetings_booked".into(),
                denominator: "active_accounts".into(),
            },
            "meetings booked per active account",
        ),
        candidate(
            "signups",
            Kind::NewEntities {
                entity: Entity::User,
                filter: one("signed_up"),
            },
            "users signing up",
        ),
        candidate(
            "registered_users",
            Kind::CumulativeEntities {
                entity: Entity::User,
                filter: one("signed_up"),
            },
            "users ever signed up",
        ),
        candidate(
            "page_views",
            Kind::EventCount {
                filter: one("page_viewed"),
            },
            "pages viewed",
        ),
        candidate(
            "reports_exported",
            Kind::EventCount {
                filter: one("report_exported"),
            },
            "finance reports exported",
        ),
        candidate(
            "settings_changes",
            Kind::EventCount {
                filter: one("settings_changed"),
            },
            "settings changed",
        ),
    ];
    Config {
        columns: EventColumns::default(),
        north_star: Some(STAR.into()),
        candidates,
        timezone: None,
        format: None,
    }
}

impl DemoData {
    /// The events as an in-memory frame with the default column names, all text, exactly as
    /// a CSV export would be read.
    pub(crate) fn events_frame(&self) -> PolarsResult<DataFrame> {
        let column =
            |f: fn(&EventRow) -> &str| -> Vec<&str> { self.events.iter().map(f).collect() };
        df!(
            "timestamp" => column(|e| &e.timestamp),
            "user_id" => column(|e| &e.user_id),
            "account_id" => column(|e| &e.account_id),
            "event" => column(|e| e.event),
            "value" => self.events.iter().map(|e| (!e.value.is_empty()).then_some(e.value.as_str())).collect::<Vec<_>>(),
        )
    }

    /// Revenue as read from `revenue.csv`.
    pub(crate) fn revenue(&self) -> Revenue {
        let entries = self
            .revenue_lines
            .iter()
            .map(|(date, customer, amount, months)| RevenueEntry {
                customer: Some(customer.clone()),
                start: Start::Day(period::parse_date(date).unwrap_or(0)),
                span: Span::Months(months.parse().unwrap_or(1)),
                amount: amount.parse().unwrap_or(0.0),
            })
            .collect();
        Revenue {
            shape: RevenueShape::PerCustomer,
            rows: self.revenue_lines.len() as u64,
            entries,
            source: "demo revenue".into(),
            notes: Vec::new(),
        }
    }

    pub(crate) fn events_csv(&self) -> String {
        let mut out = String::with_capacity(self.events.len() * 64);
        out.push_str("timestamp,user_id,account_id,event,value\n");
        for e in &self.events {
            let _ = writeln!(
                out,
                "{},{},{},{},{}",
                e.timestamp, e.user_id, e.account_id, e.event, e.value
            );
        }
        out
    }

    pub(crate) fn revenue_csv(&self) -> String {
        let mut out = String::from("date,customer_id,amount,months\n");
        for (date, customer, amount, months) in &self.revenue_lines {
            let _ = writeln!(out, "{date},{customer},{amount},{months}");
        }
        out
    }
}

/// Write the dataset and its config into `dir`.
pub(crate) fn write_data(data: &DemoData, dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        crate::error::InputError::new(format!(
            "--write-data {}: cannot create the directory: {e}",
            dir.display()
        ))
    })?;
    let header = "nsm demo configuration: the planted metrics of the demo dataset.\n\
        Rerun with: nsm evaluate --events events.csv --revenue revenue.csv --config nsm.toml";
    crate::output::write_atomic(&dir.join("events.csv"), data.events_csv().as_bytes())?;
    crate::output::write_atomic(&dir.join("revenue.csv"), data.revenue_csv().as_bytes())?;
    crate::output::write_atomic(
        &dir.join("nsm.toml"),
        crate::candidates::config::to_toml(&data.config, header).as_bytes(),
    )?;
    Ok(())
}
