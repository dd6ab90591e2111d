//! `nsm sql` run on a real DuckDB (the `duckdb` Python package) and compared with the in-process
//! path: every series exact for counts and within 1e-9 relative for sums; `evaluate --series`
//! on DuckDB's result ranks and judges like `evaluate --events`.
//!
//! DuckDB comes from `NSM_TEST_PYTHON` (a Python with `duckdb`, as `.ci/run` sets up), or else
//! from a virtualenv this test creates under the target directory. It never skips: without
//! DuckDB the test fails and says why.

use std::collections::BTreeMap;

use chrono::Datelike;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::{data, json_of, nsm};

const DUCKDB_VERSION: &str = "2.0.1";

fn python_has_duckdb(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A Python that can `import duckdb`.
fn duckdb_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Ok(python) = std::env::var("NSM_TEST_PYTHON") {
            let python = PathBuf::from(python);
            assert!(
                python_has_duckdb(&python),
                "NSM_TEST_PYTHON={} cannot import duckdb",
                python.display()
            );
            return python;
        }
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("duckdb-venv");
        let python = venv.join("bin/python");
        if !python_has_duckdb(&python) {
            let made = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("python3 runs");
            assert!(made.success(), "python3 -m venv {} failed", venv.display());
            let installed = Command::new(&python)
                .args(["-m", "pip", "install", "--quiet"])
                .arg(format!("duckdb=={DUCKDB_VERSION}"))
                .status()
                .expect("pip runs");
            assert!(
                installed.success() && python_has_duckdb(&python),
                "could not install duckdb=={DUCKDB_VERSION} into {}",
                venv.display()
            );
        }
        python
    })
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/warehouse/run_duckdb.py")
}

/// Write the queries of `nsm sql` for `config`, run them on DuckDB over the CSV files and
/// return the paths of the series and customers results.
fn run_on_duckdb(
    dir: &Path,
    events: &Path,
    revenue: &Path,
    config: &Path,
    extra: &[&str],
) -> (PathBuf, PathBuf) {
    let mut run = vec![events.to_path_buf(), revenue.to_path_buf()];
    for query in ["series", "customers"] {
        let sql = dir.join(format!("{query}.sql"));
        let output = nsm()
            .args([
                "sql",
                "--dialect",
                "duckdb",
                "--table",
                "events",
                "--query",
                query,
            ])
            .arg("--config")
            .arg(config)
            .arg("--output")
            .arg(&sql)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        run.push(sql);
        run.push(dir.join(format!("{query}.csv")));
    }
    let output = Command::new(duckdb_python())
        .arg(script())
        .args(&run)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "DuckDB failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (run[3].clone(), run[5].clone())
}

/// candidate -> period label -> value, from a series CSV of `nsm sql`.
fn read_series(path: &Path, week: bool) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let mut reader = csv::Reader::from_path(path).unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        let date = chrono::NaiveDate::parse_from_str(&record[0], "%Y-%m-%d").unwrap();
        let label = if week {
            let iso = date.iso_week();
            format!("{:04}-W{:02}", iso.year(), iso.week())
        } else {
            date.format("%Y-%m").to_string()
        };
        out.entry(record[1].to_string())
            .or_default()
            .insert(label, record[2].parse().unwrap());
    }
    out
}

/// Every candidate of the in-process evaluation against DuckDB's series.
fn assert_same_series(json: &serde_json::Value, duckdb: &BTreeMap<String, BTreeMap<String, f64>>) {
    let mut compared = 0;
    for candidate in json["candidates"].as_array().unwrap() {
        let name = candidate["name"].as_str().unwrap();
        if candidate["kind"] == "revenue" {
            continue;
        }
        let sums = matches!(candidate["kind"].as_str(), Some("value_sum" | "ratio"))
            || candidate["description"]
                .as_str()
                .is_some_and(|d| d.contains("(mean over the period)"));
        // A candidate that is zero in every period has no rows in the query's result.
        let none = BTreeMap::new();
        let theirs = duckdb.get(name).unwrap_or(&none);
        for point in candidate["series"].as_array().unwrap() {
            let period = point["period"].as_str().unwrap();
            let ours = point["value"].as_f64().unwrap();
            let other = theirs.get(period).copied().unwrap_or(0.0);
            if sums {
                let scale = ours.abs().max(other.abs()).max(1e-300);
                assert!(
                    (ours - other).abs() / scale <= 1e-9,
                    "{name} {period}: nsm {ours}, DuckDB {other}"
                );
            } else {
                assert_eq!(ours, other, "{name} {period}");
            }
            compared += 1;
        }
    }
    assert!(compared > 0, "no series compared");
}

/// `nsm evaluate --series --customers` on a warehouse's results, as JSON.
fn evaluate_via_sql(
    series: &Path,
    customers: &Path,
    revenue: &Path,
    config: &Path,
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec!["evaluate", "--format", "json"];
    args.extend(extra);
    for (flag, path) in [
        ("--series", series),
        ("--customers", customers),
        ("--revenue", revenue),
        ("--config", config),
    ] {
        args.push(flag);
        args.push(path.to_str().unwrap());
    }
    json_of(&args)
}

/// nsm's series and DuckDB's (running `nsm sql`) agree, by month and by week.
fn agree_by_month_and_week(dir: &Path, events: &Path, revenue: &Path, config: &Path) {
    for period in ["month", "week"] {
        let extra = ["--period", period];
        let (series, _) = run_on_duckdb(dir, events, revenue, config, &extra);
        let json = crate::common::evaluate_json(events, revenue, config, &extra);
        assert_same_series(&json, &read_series(&series, period == "week"));
    }
}

#[test]
fn every_kind_agrees_with_duckdb_by_month_and_by_week() {
    let dir = tempfile::tempdir().unwrap();
    let (events, revenue, config) = (
        data("tiny_events.csv"),
        data("tiny_revenue_customers.csv"),
        data("tiny_nsm.toml"),
    );
    agree_by_month_and_week(dir.path(), &events, &revenue, &config);
}

#[test]
fn repeat_purchase_kinds_agree_with_duckdb_by_month_and_by_week() {
    let dir = tempfile::tempdir().unwrap();
    let (events, revenue, config) = (
        data("repeat_events.csv"),
        data("repeat_revenue.csv"),
        data("repeat_nsm.toml"),
    );
    agree_by_month_and_week(dir.path(), &events, &revenue, &config);
    // Each account's part, from the customers query, gives the same churn figures as the
    // events do.
    let (series, customers) = run_on_duckdb(dir.path(), &events, &revenue, &config, &[]);
    let direct = crate::common::evaluate_json(&events, &revenue, &config, &[]);
    let via_sql = evaluate_via_sql(
        &series,
        &customers,
        &revenue,
        &config,
        &["--surrogates", "19"],
    );
    for (a, b) in direct["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .zip(via_sql["candidates"].as_array().unwrap())
    {
        assert_eq!(a["name"], b["name"]);
        assert_eq!(a["series"], b["series"], "{}", a["name"]);
        assert_eq!(a["churn"], b["churn"], "{}", a["name"]);
    }
}

#[test]
fn whole_hour_offsets_agree_with_duckdb_timestamptz() {
    // PostgreSQL's `2024-02-01 00:30:00+02` text, read by DuckDB into a TIMESTAMPTZ column in
    // a New York session, and by nsm from the same file: the same UTC buckets.
    let dir = tempfile::tempdir().unwrap();
    let events = crate::timestamps::write_events(
        dir.path(),
        "plus_two.csv",
        crate::timestamps::postgres_plus_two,
    );
    let (revenue, config) = (data("tiny_revenue_customers.csv"), data("tiny_nsm.toml"));
    agree_by_month_and_week(dir.path(), &events, &revenue, &config);
}

#[test]
fn anonymous_id_fallbacks_agree_with_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let events = crate::odd_inputs::segment_table(dir.path(), None);
    let config = crate::odd_inputs::with_fallback_config(dir.path());
    let revenue = data("tiny_revenue_customers.csv");
    agree_by_month_and_week(dir.path(), &events, &revenue, &config);
}

#[test]
fn awkward_event_names_are_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let name = "it's \"x\", \\ y";
    let events = dir.path().join("events.csv");
    let text = std::fs::read_to_string(data("tiny_events.csv"))
        .unwrap()
        .replace(",meeting,", ",\"it's \"\"x\"\", \\ y\",");
    std::fs::write(&events, text).unwrap();
    let config = dir.path().join("nsm.toml");
    std::fs::write(
        &config,
        format!(
            "[[candidate]]\nname = {name:?}\nkind = \"event_count\"\nevent = {name:?}\n\n\
             [[candidate]]\nname = \"users of it\"\nkind = \"active_entities\"\nentity = \"user\"\nevent = {name:?}\n"
        ),
    )
    .unwrap();
    let revenue = data("tiny_revenue_customers.csv");
    let (series, _) = run_on_duckdb(dir.path(), &events, &revenue, &config, &[]);
    let duckdb = read_series(&series, false);
    assert_eq!(
        duckdb[name].values().copied().collect::<Vec<_>>(),
        [4.0, 3.0, 2.0]
    );
    assert_same_series(
        &crate::common::evaluate_json(&events, &revenue, &config, &[]),
        &duckdb,
    );
}

#[test]
fn demo_series_from_duckdb_rank_and_judge_like_the_events() {
    let dir = tempfile::tempdir().unwrap();
    let (events, revenue, config) = crate::common::write_demo_data(dir.path());
    let (series, customers) = run_on_duckdb(
        dir.path(),
        &events,
        &revenue,
        &config,
        &["--revenue-table", "revenue"],
    );
    let direct = json_of(&[
        "evaluate",
        "--format",
        "json",
        "--events",
        events.to_str().unwrap(),
        "--revenue",
        revenue.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_same_series(&direct, &read_series(&series, false));
    let via_sql = evaluate_via_sql(&series, &customers, &revenue, &config, &[]);
    let verdicts = |json: &serde_json::Value| -> Vec<(String, String, String, String, String)> {
        json["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].to_string(),
                    c["rank"].to_string(),
                    c["verdict"].to_string(),
                    c["lead"]["verdict"].to_string(),
                    c["churn"]["verdict"].to_string(),
                )
            })
            .collect()
    };
    assert_eq!(verdicts(&direct), verdicts(&via_sql));
    assert_eq!(direct["recommended"], via_sql["recommended"]);
    assert_eq!(
        direct["data"]["events_rows"],
        via_sql["data"]["events_rows"]
    );
    assert_eq!(direct["data"]["customers"], via_sql["data"]["customers"]);
    for (a, b) in direct["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .zip(via_sql["candidates"].as_array().unwrap())
    {
        assert_eq!(a["labels"], b["labels"], "{}", a["name"]);
        assert_eq!(a["lead"], b["lead"], "{}", a["name"]);
        // Paying customers' figures are the same; only non-customers are left out of the
        // customers query.
        assert_eq!(
            a["churn"]["churner_weight"], b["churn"]["churner_weight"],
            "{}",
            a["name"]
        );
    }
    // Without the per-account parts the churner figures are null, with the reason.
    let series_only = json_of(&[
        "evaluate",
        "--format",
        "json",
        "--series",
        series.to_str().unwrap(),
        "--revenue",
        revenue.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let first = &series_only["candidates"][0];
    assert!(first["churn"]["churner_weight"].is_null());
    assert!(first["churn"]["churner_weight_note"]
        .as_str()
        .unwrap()
        .contains("--customers"));
    // The aggregate line is the same; without each account's part there is no account line
    // (so the family, the adjusted p-values and the ranking may differ).
    let same_name = direct["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == first["name"])
        .unwrap();
    for field in [
        "best_lag",
        "r",
        "p_value",
        "by_lag",
        "reverse_r",
        "granger_f",
    ] {
        assert_eq!(first["lead"][field], same_name["lead"][field], "{field}");
    }
    assert!(first["accounts"]["note"]
        .as_str()
        .unwrap()
        .contains("each account's part"));
}
