//! `nsm discover` on planted companies, each written as CSV and run through the binary.
//!
//! Planted, account by account, week by week (weeks from Monday 2023-01-02, 22 months):
//! - threshold: in a "power week" an account books 5 or more meetings (5 + Poisson(1)), in any
//!   other week its own steady number, 0 to 4 (or, one week in three, any of 0 to 4); how often
//!   its weeks are power weeks is the account's own (and moves month to month). Its monthly
//!   churn hazard falls with the share s of power weeks in the month: `1 / (1 + exp(2.3 +
//!   2.0 s))`, 9% a month without power weeks, 1.4% with only power weeks. The monthly count of
//!   meetings says little about it (four steady weeks of 4 are 16 meetings and no power week):
//!   the knee is at 5 a week.
//! - team: accounts of one to six users; a user edits documents in a week with the account's
//!   own probability, each as many times as their own habit (heavy-tailed); the monthly churn
//!   hazard falls with the share s of weeks in which 3 or more members edit,
//!   `1 / (1 + exp(2.0 + 3.0 s))`.
//! - null: the threshold company, churn independent of every event.

use std::fmt::Write as _;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::{json_of, normal, nsm, poisson};

const MONTHS: usize = 22;

#[derive(Clone, Copy, PartialEq)]
enum Planted {
    Threshold,
    Team,
    Null,
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The date of day `d` after 2023-01-02 (a Monday).
fn date(d: i64) -> String {
    (chrono::NaiveDate::from_ymd_opt(2023, 1, 2).unwrap() + chrono::Duration::days(d))
        .format("%Y-%m-%d")
        .to_string()
}

/// The month (0-based from 2023-01) of day `d`.
fn month_of(d: i64) -> usize {
    use chrono::Datelike;
    let day = chrono::NaiveDate::from_ymd_opt(2023, 1, 2).unwrap() + chrono::Duration::days(d);
    ((day.year() - 2023) * 12 + day.month0() as i32) as usize
}

/// Write a planted company of `accounts` accounts into `dir`.
fn company(dir: &Path, seed: u64, planted: Planted, accounts: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut events = String::from("timestamp,user_id,account_id,event\n");
    let mut revenue = String::from("date,customer_id,amount\n");
    let weeks = (MONTHS * 30) / 7;
    for a in 0..accounts {
        let start = rng.random_range(0..MONTHS / 2);
        let users: usize = match planted {
            Planted::Team => rng.random_range(1..=6),
            _ => rng.random_range(1..=3),
        };
        let mrr = 40.0 * users as f64;
        let propensity = 0.9 * normal(&mut rng) - 0.2;
        let baseline: u32 = rng.random_range(0..=4);
        let edit_share = logistic(1.2 * normal(&mut rng) - 0.3);
        let habits: Vec<f64> = (0..users).map(|_| (normal(&mut rng)).exp()).collect();
        let mut month = start;
        let mut level = propensity;
        let (mut good, mut seen) = (0usize, 0usize);
        let mut paying = true;
        let mut paid_month = usize::MAX;
        for w in 0..weeks {
            let monday = 7 * w as i64;
            let m = month_of(monday + 3);
            if m < start {
                continue;
            }
            if m != month {
                // The month just ended: decide whether the account leaves.
                let share = if seen > 0 {
                    good as f64 / seen as f64
                } else {
                    0.0
                };
                let hazard = match planted {
                    Planted::Null => 0.05,
                    Planted::Threshold => 1.0 / (1.0 + (2.3 + 2.0 * share).exp()),
                    Planted::Team => 1.0 / (1.0 + (2.0 + 3.0 * share).exp()),
                };
                if rng.random::<f64>() < hazard {
                    paying = false;
                }
                month = m;
                level = 0.7 * level + 0.3 * propensity + 0.4 * normal(&mut rng);
                good = 0;
                seen = 0;
            }
            if !paying || m >= MONTHS {
                break;
            }
            if paid_month != m {
                let _ = writeln!(
                    revenue,
                    "{}-{:02}-01,a{a},{mrr:.2}",
                    2023 + m / 12,
                    m % 12 + 1
                );
                paid_month = m;
            }
            let mut emit = |user: usize, name: &str, rng: &mut ChaCha8Rng| {
                let day = monday + rng.random_range(0..7);
                let _ = writeln!(events, "{}T12:00:00Z,a{a}-u{user},a{a},{name}", date(day));
            };
            seen += 1;
            match planted {
                Planted::Threshold | Planted::Null => {
                    let power = rng.random::<f64>() < logistic(level);
                    let meetings = if power {
                        5 + poisson(&mut rng, 1.0)
                    } else if rng.random::<f64>() < 0.7 {
                        baseline
                    } else {
                        rng.random_range(0..=4)
                    };
                    good += usize::from(power);
                    for _ in 0..meetings {
                        let user = rng.random_range(1..=users);
                        emit(user, "meeting_booked", &mut rng);
                    }
                }
                Planted::Team => {
                    let mut editors = 0;
                    for (u, habit) in habits.iter().enumerate() {
                        if rng.random::<f64>() < edit_share {
                            editors += 1;
                            for _ in 0..1 + poisson(&mut rng, 1.5 * habit) {
                                emit(u + 1, "doc_edited", &mut rng);
                            }
                        }
                    }
                    good += usize::from(editors >= 3);
                }
            }
            for _ in 0..poisson(&mut rng, 1.0) {
                let user = rng.random_range(1..=users);
                emit(user, "page_viewed", &mut rng);
            }
        }
    }
    std::fs::write(dir.join("events.csv"), events).unwrap();
    std::fs::write(dir.join("revenue.csv"), revenue).unwrap();
}

fn discover(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let mut args = vec![
        "discover".to_string(),
        "--format".into(),
        "json".into(),
        "--surrogates".into(),
        "999".into(),
        "--events".into(),
        path("events.csv"),
        "--revenue".into(),
        path("revenue.csv"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    json_of(&args)
}

fn top(json: &serde_json::Value) -> &Vec<serde_json::Value> {
    json["thresholds"]["top"].as_array().unwrap()
}

#[test]
fn a_weekly_threshold_is_found_at_its_knee() {
    let dir = tempfile::tempdir().unwrap();
    company(dir.path(), 11, Planted::Threshold, 1_200);
    let json = discover(dir.path(), &[]);
    let t = &json["thresholds"];
    let found = t["found"].as_str().expect("a threshold is found");
    let cell = top(&json).iter().find(|c| c["name"] == found).unwrap();
    assert_eq!(cell["verdict"], "confirmed");
    assert_eq!(cell["event"], "meeting_booked");
    assert_eq!(cell["window"], "week", "{found}");
    assert_eq!(cell["measure"], "count", "{found}");
    // 5, or one step of the ladder either side.
    let n = cell["threshold"].as_f64().unwrap();
    assert!([3.0, 5.0, 8.0].contains(&n), "{found}");
    assert!(t["family_p"].as_f64().unwrap() <= 0.05);
    let out = &cell["out_of_sample"];
    assert!(out["p_adjusted"].as_f64().unwrap() <= 0.05);
    assert!(out["coefficient"].as_f64().unwrap() > 0.0);
    // The dose-response of its family, with the reach of each rung falling as N rises.
    let rows = t["dose_response"]["rows"].as_array().unwrap();
    assert!(rows.len() >= 4);
    let reach: Vec<f64> = rows.iter().map(|r| r["reach"].as_f64().unwrap()).collect();
    assert!(reach.windows(2).all(|w| w[0] >= w[1]), "{reach:?}");
    // The found threshold is the tree's star, decomposed exactly.
    let tree = &json["tree"];
    assert_eq!(tree["star"], found);
    assert_eq!(tree["source"], "found");
    assert!(tree["max_relative_error"].as_f64().unwrap() < 1e-9);
    // Accounts doing it x the share of them at N+; for users, users per such account between.
    let drivers = tree["drivers"].as_array().unwrap();
    let levels = if cell["entity"] == "account" { 2 } else { 3 };
    assert_eq!(drivers.len(), levels, "{found}");
    for change in tree["changes"].as_array().unwrap() {
        let total: f64 = change["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["contribution"].as_f64().unwrap())
            .sum();
        let change = change["change"].as_f64().unwrap();
        assert!((total - change).abs() < 1e-4, "{total} vs {change}");
    }
}

#[test]
fn a_team_threshold_is_found() {
    let dir = tempfile::tempdir().unwrap();
    company(dir.path(), 12, Planted::Team, 1_200);
    let json = discover(dir.path(), &[]);
    let found = json["thresholds"]["found"]
        .as_str()
        .expect("a threshold is found");
    let cell = top(&json).iter().find(|c| c["name"] == found).unwrap();
    assert_eq!(cell["measure"], "members", "{found}");
    assert_eq!(cell["event"], "doc_edited");
    assert_eq!(cell["threshold"].as_f64(), Some(3.0), "{found}");
}

#[test]
fn no_threshold_is_confirmed_when_retention_ignores_usage() {
    let dir = tempfile::tempdir().unwrap();
    company(dir.path(), 13, Planted::Null, 1_200);
    let json = discover(dir.path(), &[]);
    let t = &json["thresholds"];
    assert!(t["found"].is_null(), "{}", t["summary"]);
    assert!(top(&json).iter().all(|c| c["verdict"] != "confirmed"));
    assert!(t["summary"].as_str().unwrap().starts_with("No threshold"));
    assert!(json["tree"].is_null());
}

#[test]
fn the_written_config_evaluates_the_found_threshold() {
    let dir = tempfile::tempdir().unwrap();
    company(dir.path(), 11, Planted::Threshold, 1_200);
    let written = dir.path().join("discovered.toml");
    let json = discover(dir.path(), &["--write-config", written.to_str().unwrap()]);
    let found = json["thresholds"]["found"].as_str().unwrap().to_string();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let evaluation = json_of(&[
        "evaluate",
        "--format",
        "json",
        "--surrogates",
        "99",
        "--events",
        &path("events.csv"),
        "--revenue",
        &path("revenue.csv"),
        "--config",
        &path("discovered.toml"),
    ]);
    let names: Vec<&str> = evaluation["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&found.as_str()), "{names:?}");
    for driver in json["tree"]["drivers"].as_array().unwrap() {
        assert!(
            names.contains(&driver["name"].as_str().unwrap()),
            "{names:?}"
        );
    }
    // The threshold's series is the one discover's tree shows.
    let series = |name: &str| crate::common::series(&evaluation, name);
    let tree_series: Vec<f64> = json["tree"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    let evaluated = series(&found);
    assert_eq!(evaluated.len(), tree_series.len());
    for (a, b) in evaluated.iter().zip(&tree_series) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}

#[test]
fn discover_needs_per_customer_revenue_and_events() {
    let dir = tempfile::tempdir().unwrap();
    company(dir.path(), 11, Planted::Null, 60);
    let revenue = dir.path().join("aggregate.csv");
    std::fs::write(&revenue, "period,revenue\n2023-01,100\n2023-02,110\n").unwrap();
    let events = dir.path().join("events.csv");
    let out = nsm()
        .args([
            "discover",
            "--events",
            events.to_str().unwrap(),
            "--revenue",
        ])
        .arg(&revenue)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("per-customer revenue"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // --star must name a candidate.
    let out = nsm()
        .args(["discover", "--star", "no_such_metric", "--events"])
        .arg(&events)
        .arg("--revenue")
        .arg(dir.path().join("revenue.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--star no_such_metric"), "{stderr}");
}

/// The tree of `tasks` over tests/data/tree_events.csv, worked out by hand:
///
/// | month   | tasks | accounts | users | users per account | tasks per user |
/// |---------|-------|----------|-------|-------------------|----------------|
/// | 2024-01 | 2     | 1 (a1)   | 1     | 1                 | 2              |
/// | 2024-02 | 4     | 2        | 3     | 1.5               | 4/3            |
/// | 2024-03 | 3     | 1        | 1     | 1                 | 3              |
/// | 2024-04 | 4     | 3        | 3     | 1                 | 4/3            |
/// | 2024-05 | 5     | 3        | 4     | 4/3               | 5/4            |
///
/// Last quarter (2024-02 to 2024-05), tasks 4 -> 5: L = 1 / ln(5/4) = 4.481420; accounts
/// ln(3/2) = 0.405465 -> 1.817059, users per account ln((4/3)/1.5) = -0.117783 -> -0.527835,
/// tasks per user ln((5/4)/(4/3)) = -0.064539 -> -0.289224; they sum to 1.
#[test]
fn the_tree_of_a_count_is_exact_on_a_hand_worked_fixture() {
    let data = crate::common::data;
    let json = json_of(&[
        "discover",
        "--tree-only",
        "--format",
        "json",
        "--events",
        data("tree_events.csv").to_str().unwrap(),
        "--revenue",
        data("tree_revenue.csv").to_str().unwrap(),
        "--config",
        data("tree_nsm.toml").to_str().unwrap(),
    ]);
    assert!(json["thresholds"].is_null());
    let tree = &json["tree"];
    assert_eq!(tree["star"], "tasks");
    assert_eq!(tree["source"], "declared");
    assert_eq!(
        tree["identity"],
        "tasks = task_accounts × task_users_per_account × tasks_per_user"
    );
    let values = |name: &str| -> Vec<f64> {
        tree["drivers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .unwrap()["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"].as_f64().unwrap())
            .collect()
    };
    let close = |got: Vec<f64>, want: [f64; 5]| {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
        assert_eq!(got.len(), 5);
    };
    close(values("task_accounts"), [1.0, 2.0, 1.0, 3.0, 3.0]);
    close(
        values("task_users_per_account"),
        [1.0, 1.5, 1.0, 1.0, 4.0 / 3.0],
    );
    close(
        values("tasks_per_user"),
        [2.0, 4.0 / 3.0, 3.0, 4.0 / 3.0, 1.25],
    );
    assert!(tree["max_relative_error"].as_f64().unwrap() < 1e-9);
    let changes = tree["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "five months hold a quarter, not a year");
    let quarter = &changes[0];
    assert_eq!(quarter["from"], "2024-02");
    assert_eq!(quarter["to"], "2024-05");
    assert_eq!(quarter["change"].as_f64(), Some(1.0));
    let parts: Vec<f64> = quarter["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["contribution"].as_f64().unwrap())
        .collect();
    for (got, want) in parts.iter().zip([1.817059, -0.527835, -0.289224]) {
        assert!((got - want).abs() < 2e-6, "{parts:?}");
    }
    assert!((parts.iter().sum::<f64>() - 1.0).abs() < 1e-5);
    // Five months are too few for the lead test of the inputs: it says so.
    let views = &tree["inputs"][0];
    assert_eq!(views["name"], "views");
    assert_eq!(views["verdict"], "inconclusive");
}

#[test]
fn same_input_and_seed_same_bytes_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    company(dir.path(), 14, Planted::Threshold, 400);
    let run = |seed: &str, threads: &str| {
        let out = nsm()
            .env("RAYON_NUM_THREADS", threads)
            .args([
                "discover",
                "--quiet",
                "--format",
                "json",
                "--surrogates",
                "199",
            ])
            .args(["--seed", seed, "--events"])
            .arg(dir.path().join("events.csv"))
            .arg("--revenue")
            .arg(dir.path().join("revenue.csv"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let first = run("5", "1");
    assert_eq!(first, run("5", "2"));
    // Another seed splits the accounts otherwise.
    let other: serde_json::Value = serde_json::from_slice(&run("6", "2")).unwrap();
    let first: serde_json::Value = serde_json::from_slice(&first).unwrap();
    assert_ne!(
        first["data"]["accounts_discovery"],
        other["data"]["accounts_discovery"]
    );
}

#[test]
fn tree_only_needs_a_star() {
    let data = crate::common::data;
    let out = nsm()
        .args(["discover", "--tree-only", "--events"])
        .arg(data("tree_events.csv"))
        .arg("--revenue")
        .arg(data("tree_revenue.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--tree-only needs a star"), "{stderr}");
}

#[test]
fn on_the_demo_data_the_planted_threshold_is_confirmed_and_the_star_decomposed() {
    let dir = tempfile::tempdir().unwrap();
    let (events, revenue, config) = crate::common::write_demo_data(dir.path());
    let json = json_of(&[
        "discover",
        "--format",
        "json",
        "--surrogates",
        "999",
        "--events",
        events.to_str().unwrap(),
        "--revenue",
        revenue.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let t = &json["thresholds"];
    let found = t["found"].as_str().expect("a threshold is found");
    let cell = top(&json).iter().find(|c| c["name"] == found).unwrap();
    // The planted star: accounts with 5+ meetings in a week (or the rung beside it).
    assert_eq!(cell["event"], "meeting_booked", "{found}");
    assert_eq!(cell["verdict"], "confirmed");
    assert_eq!(cell["window"], "week", "{found}");
    assert_eq!(cell["entity"], "account", "{found}");
    assert_eq!(cell["measure"], "count", "{found}");
    assert!(
        [3.0, 5.0, 8.0].contains(&cell["threshold"].as_f64().unwrap()),
        "{found}"
    );
    // The expansion test is shown beside retention on both halves.
    assert!(cell["out_of_sample"]["expansion_z"].as_f64().unwrap() > 0.0);
    // The declared star, as accounts booking meetings in a week x the share of them at 5+.
    let tree = &json["tree"];
    assert_eq!(tree["star"], "accounts_5plus_meetings");
    assert_eq!(tree["source"], "declared");
    let drivers: Vec<&str> = tree["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        drivers,
        [
            "meeting_booked_accounts_weekly",
            "accounts_5plus_meetings_share"
        ]
    );
    assert_eq!(tree["changes"].as_array().unwrap().len(), 2);
    // The inputs: every other candidate of the config, tested against the star.
    assert_eq!(tree["inputs"].as_array().unwrap().len(), 11);
}

#[test]
fn weekly_periods_search_the_week_window_once() {
    let dir = tempfile::tempdir().unwrap();
    company(dir.path(), 15, Planted::Threshold, 400);
    let json = discover(dir.path(), &["--period", "week"]);
    assert_eq!(json["settings"]["period"], "week");
    assert_eq!(json["settings"]["horizon"], 26, "6 months in weeks");
    for c in top(&json) {
        assert_eq!(c["window"], "week", "{}", c["name"]);
    }
    let rows = json["thresholds"]["dose_response"]["rows"]
        .as_array()
        .unwrap();
    assert!(rows
        .iter()
        .all(|r| r["name"].as_str().unwrap().ends_with("_weekly")));
}
