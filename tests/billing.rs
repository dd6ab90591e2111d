//! Billing exports as revenue: Stripe invoice line items and ChartMogul activities, over the
//! events of tests/data/tiny_events.csv. The fixtures (tests/fixtures/billing, written by
//! make_billing.py, whose docstring works every month out by hand) are read to the same
//! evaluation as `*_expected.csv`, the hand-worked revenue per customer and month in nsm's
//! own table shape.

use std::path::{Path, PathBuf};

use crate::common::{data, evaluate_json, input_error_of, nsm, series};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/billing")
        .join(name)
}

fn run(revenue: &Path, extra: &[&str]) -> serde_json::Value {
    run_with_config(revenue, &data("tiny_nsm.toml"), extra)
}

fn run_with_config(revenue: &Path, config: &Path, extra: &[&str]) -> serde_json::Value {
    evaluate_json(&data("tiny_events.csv"), revenue, config, extra)
}

fn assert_close(got: &[f64], expected: &[f64]) {
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for (g, e) in got.iter().zip(expected) {
        assert!((g - e).abs() < 1e-6, "got {got:?}, expected {expected:?}");
    }
}

fn notes(json: &serde_json::Value) -> String {
    json["data"]["notes"].to_string()
}

/// The candidates other than revenue itself, whose figures (series, churn weights, verdicts)
/// depend on which customer pays in which month, not on the revenue's last decimals.
fn metrics(json: &serde_json::Value) -> Vec<serde_json::Value> {
    json["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] != "revenue")
        .cloned()
        .collect()
}

fn rates(dir: &Path) -> String {
    let path = dir.join("fx.csv");
    std::fs::write(&path, "currency,rate\nUSD,1\nJPY,0.01\n").unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn stripe_line_items_read_to_the_hand_worked_revenue() {
    let dir = tempfile::tempdir().unwrap();
    let fx = rates(dir.path());
    let json = run(&fixture("stripe_line_items.csv"), &["--fx", &fx]);
    // January 170 + 50 + 310, February 290 + 50 + 65, March 310 + 60 (make_billing.py).
    assert_close(&series(&json, "revenue"), &[530.0, 405.0, 370.0]);
    let expected = run(&fixture("stripe_expected.csv"), &[]);
    assert_close(&series(&expected, "revenue"), &series(&json, "revenue"));
    assert_eq!(metrics(&json), metrics(&expected));
    assert_eq!(json["data"]["customers"], expected["data"]["customers"]);
    assert_eq!(json["data"]["churn_source"], "revenue");
    let notes = notes(&json);
    for said in [
        "Stripe invoice line items: 8 lines of paid invoices",
        "left out (invoice not paid): 1 open, 1 void",
        "1 line with a negative amount",
        "refunds on 1 line (20.00 in all",
        "amounts in JPY read in their own smallest unit",
        "converted to the reporting currency",
    ] {
        assert!(notes.contains(said), "{said}: {notes}");
    }
    // The same line items in Parquet, periods as zoned timestamps: the same evaluation.
    let parquet = run(&fixture("stripe_line_items.parquet"), &["--fx", &fx]);
    assert_eq!(parquet["candidates"], json["candidates"]);
    assert_eq!(parquet["data"]["customers"], json["data"]["customers"]);
    // Named or detected, the same reading.
    let named = run(
        &fixture("stripe_line_items.csv"),
        &["--fx", &fx, "--revenue-format", "stripe"],
    );
    assert_eq!(named, json);
}

#[test]
fn stripe_zero_decimal_currency_is_whole_units() {
    // At one yen to the unit, 31,000 yen add 31,000 to January, not 310.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("par.csv");
    std::fs::write(&path, "currency,rate\nUSD,1\nJPY,1\n").unwrap();
    let json = run(
        &fixture("stripe_line_items.csv"),
        &["--fx", path.to_str().unwrap()],
    );
    assert_close(&series(&json, "revenue"), &[31220.0, 405.0, 370.0]);
    let json = run(&fixture("stripe_line_items.csv"), &["--currency", "usd"]);
    assert_close(&series(&json, "revenue"), &[220.0, 405.0, 370.0]);
    assert!(
        notes(&json).contains("left out JPY (1 row)"),
        "{}",
        notes(&json)
    );
}

#[test]
fn stripe_in_two_currencies_without_rates_is_refused() {
    let stderr = input_error_of(
        &data("tiny_events.csv"),
        &fixture("stripe_line_items.csv"),
        Some(&data("tiny_nsm.toml")),
        &[],
    );
    assert!(stderr.contains("stripe_line_items.csv"), "{stderr}");
    assert!(stderr.contains("JPY (1 row), USD (7 rows)"), "{stderr}");
    assert!(stderr.contains("--fx"), "{stderr}");
}

#[test]
fn chartmogul_mrr_is_the_running_sum_at_each_month_end() {
    let json = run(&fixture("chartmogul_activities.csv"), &[]);
    // a1 100, 150, 150; a2 50, 0, 40 (its churn is February in UTC); a3 0, 0, 80.
    assert_close(&series(&json, "revenue"), &[150.0, 150.0, 270.0]);
    let expected = run(&fixture("chartmogul_expected.csv"), &[]);
    assert_eq!(metrics(&json), metrics(&expected));
    assert_eq!(json["data"]["customers"], expected["data"]["customers"]);
    let notes = notes(&json);
    assert!(
        notes.contains("running sum of 6 activity-mrr-movement value(s), carried to 2024-03 (customers by customer-external-id)"),
        "{notes}"
    );
    assert!(notes.contains("revenue in USD"), "{notes}");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const STRIPE_HEADER: &str = "customer,status,amount,currency,period_start,period_end\n";

#[test]
fn bad_billing_cells_name_file_line_column_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "major_units.csv",
            format!("{STRIPE_HEADER}a1,paid,19.99,usd,1704067200,1706745600\n"),
            &["line 2", "amount", "'19.99'", "smallest unit"][..],
        ),
        (
            "bad_start.csv",
            format!("{STRIPE_HEADER}a1,paid,1999,usd,soon,1706745600\n"),
            &["line 2", "period_start", "'soon'", "unix seconds"][..],
        ),
        (
            "backwards.csv",
            format!("{STRIPE_HEADER}a1,paid,1999,usd,1706745600,1704067200\n"),
            &["line 2", "period_end", "ends before it starts"][..],
        ),
        (
            "no_customer.csv",
            format!("{STRIPE_HEADER},paid,1999,usd,1704067200,1706745600\n"),
            &["line 2", "customer", "customer id is empty"][..],
        ),
        (
            "nothing_paid.csv",
            format!("{STRIPE_HEADER}a1,void,1999,usd,1704067200,1706745600\n"),
            &["has no paid amounts"][..],
        ),
        (
            "bad_movement.csv",
            "customer-external-id,date,activity-mrr-movement,currency\na1,2024-01-05,lots,USD\n"
                .to_string(),
            &["line 2", "activity-mrr-movement", "'lots'", "not a number"][..],
        ),
        (
            "bad_date.csv",
            "customer-external-id,date,activity-mrr-movement,currency\na1,yesterday,100,USD\n"
                .to_string(),
            &["line 2", "date", "'yesterday'"][..],
        ),
    ];
    for (name, text, expected) in cases {
        let path = write(dir.path(), name, &text);
        let before = std::fs::read(&path).unwrap();
        let stderr = input_error_of(&data("tiny_events.csv"), &path, None, &[]);
        assert!(stderr.contains(name), "{name}: {stderr}");
        for part in expected {
            assert!(stderr.contains(part), "{name}: {part}: {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "{name} untouched");
    }
}

#[test]
fn a_named_format_the_header_does_not_fit_says_what_is_missing() {
    let stderr = input_error_of(
        &data("tiny_events.csv"),
        &fixture("chartmogul_activities.csv"),
        None,
        &["--revenue-format", "stripe"],
    );
    assert!(
        stderr.contains("read as Stripe invoice line items")
            && stderr.contains("no customer, amount, period_start, period_end columns"),
        "{stderr}"
    );
    // `table` reads nsm's own shapes only, and says which billing exports it knows.
    let stderr = input_error_of(
        &data("tiny_events.csv"),
        &fixture("stripe_line_items.csv"),
        None,
        &["--revenue-format", "table"],
    );
    assert!(
        stderr.contains("unrecognised header") && stderr.contains("Stripe invoice line items"),
        "{stderr}"
    );
}

#[test]
fn init_checks_a_billing_export_without_asking_for_rates() {
    // `nsm init` only checks that the revenue can be read: two currencies are not an error
    // there (evaluate asks for --currency or --fx), and the config it writes reads the export.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nsm.toml");
    let output = nsm()
        .args(["init", "--events"])
        .arg(data("tiny_events.csv"))
        .arg("--revenue")
        .arg(fixture("stripe_line_items.csv"))
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("wrote"), "{stderr}");
    let fx = rates(dir.path());
    let json = run_with_config(&fixture("stripe_line_items.csv"), &out, &["--fx", &fx]);
    assert_close(&series(&json, "revenue"), &[530.0, 405.0, 370.0]);
}

/// Each customer's revenue in January to March 2024, read from one file by nsm's own reader.
fn per_customer(
    path: &Path,
    fx: Option<&Path>,
) -> std::collections::BTreeMap<(String, String), f64> {
    use nsm::ingest::revenue::{load_revenue, FxRates, RevenueOptions};
    use nsm::ingest::source::resolve;
    use nsm::period::{self, PeriodKind};
    let file = &resolve(&[path.to_path_buf()], "revenue").unwrap()[0];
    let fx =
        fx.map(|p| FxRates::load(&resolve(&[p.to_path_buf()], "fx").unwrap()[0], b',').unwrap());
    let options = RevenueOptions {
        fx,
        ..RevenueOptions::default()
    };
    let revenue = load_revenue(file, b',', None, &options).unwrap();
    let (jan, mar) = (
        period::parse_month_label("2024-01").unwrap(),
        period::parse_month_label("2024-03").unwrap(),
    );
    let mut out = std::collections::BTreeMap::new();
    for (customer, months) in revenue.spread(PeriodKind::Month).per_customer.unwrap() {
        for (month, amount) in months {
            if (jan..=mar).contains(&month) && amount != 0.0 {
                out.insert((customer.clone(), PeriodKind::Month.label(month)), amount);
            }
        }
    }
    out
}

#[test]
fn each_customer_pays_the_hand_worked_amount_in_each_month() {
    let dir = tempfile::tempdir().unwrap();
    let fx = PathBuf::from(rates(dir.path()));
    for (export, fx, expected) in [
        (
            "stripe_line_items.csv",
            Some(fx.as_path()),
            "stripe_expected.csv",
        ),
        (
            "stripe_line_items.parquet",
            Some(fx.as_path()),
            "stripe_expected.csv",
        ),
        ("chartmogul_activities.csv", None, "chartmogul_expected.csv"),
    ] {
        let got = per_customer(&fixture(export), fx);
        let want = per_customer(&fixture(expected), None);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{export}"
        );
        for (key, amount) in &want {
            assert!(
                (got[key] - amount).abs() < 1e-9,
                "{export} {key:?}: {} vs {amount}",
                got[key]
            );
        }
    }
    // The hand-worked table itself, so that a wrong table cannot pass: a2 pays 50 in January,
    // 50 - 15 + 30 in February, nothing in March (its invoice was void).
    let want = per_customer(&fixture("stripe_expected.csv"), None);
    assert_eq!(want[&("a2".to_string(), "2024-02".to_string())], 65.0);
    assert!(!want.contains_key(&("a2".to_string(), "2024-03".to_string())));
}
