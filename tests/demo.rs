//! The demo's planted truth must come out of the evaluation, and its exported files must give
//! the same answer through `evaluate`.

use crate::common::{json_of, nsm};

fn candidate<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} in the demo"))
}

fn labels(c: &serde_json::Value) -> Vec<&str> {
    c["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect()
}

#[test]
fn demo_finds_the_planted_truth() {
    let json = json_of(&["demo", "--format", "json"]);
    assert_eq!(json["recommended"], "accounts_5plus_meetings");
    let star = candidate(&json, "accounts_5plus_meetings");
    assert_eq!(star["rank"], 1);
    assert_eq!(star["verdict"], "pass");
    // Planted: revenue follows power use by six months.
    let lag = star["lead"]["best_lag"].as_u64().unwrap();
    assert!((5..=7).contains(&lag), "best lag {lag}");
    // Planted: leaving accounts disengage first.
    assert!(star["churn"]["churner_weight"].as_f64().unwrap() < 1.0);
    // Planted vanity: signups rise through the churn wave, page views come from leaving
    // accounts, registered users can never fall.
    for name in ["signups", "page_views", "registered_users"] {
        let c = candidate(&json, name);
        assert_eq!(c["verdict"], "fail", "{name}");
        assert!(labels(c).contains(&"vanity"), "{name}: {:?}", labels(c));
    }
    assert!(
        candidate(&json, "page_views")["churn"]["churner_weight"]
            .as_f64()
            .unwrap()
            > 1.2
    );
    assert_eq!(
        candidate(&json, "registered_users")["churn"]["monotone"],
        true
    );
    // Planted lagging metric and pure noise.
    let reports = candidate(&json, "reports_exported");
    assert_eq!(reports["verdict"], "fail");
    assert!(
        labels(reports).contains(&"lagging"),
        "{:?}",
        labels(reports)
    );
    let settings = candidate(&json, "settings_changes");
    assert_eq!(settings["verdict"], "fail");
    assert!(
        labels(settings).contains(&"noisy"),
        "{:?}",
        labels(settings)
    );
    // The dataset is as described: 42 months, per-customer revenue, over 1,000 accounts.
    assert_eq!(json["data"]["n_periods"], 42);
    assert_eq!(json["data"]["churn_source"], "revenue");
}

#[test]
fn demo_data_written_out_gives_the_same_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let in_memory = nsm()
        .args([
            "demo",
            "--format",
            "json",
            "--surrogates",
            "99",
            "--write-data",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(in_memory.status.success());
    let accounts: std::collections::BTreeSet<String> =
        std::fs::read_to_string(dir.path().join("events.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(2).unwrap().to_string())
            .collect();
    assert!(accounts.len() >= 1000, "{} accounts", accounts.len());
    let revenue = std::fs::read_to_string(dir.path().join("revenue.csv")).unwrap();
    assert!(
        revenue.lines().any(|l| l.ends_with(",12")),
        "annual contracts present"
    );
    let from_files = nsm()
        .args([
            "evaluate",
            "--format",
            "json",
            "--surrogates",
            "99",
            "--events",
        ])
        .arg(dir.path().join("events.csv"))
        .arg("--revenue")
        .arg(dir.path().join("revenue.csv"))
        .arg("--config")
        .arg(dir.path().join("nsm.toml"))
        .output()
        .unwrap();
    assert!(
        from_files.status.success(),
        "{}",
        String::from_utf8_lossy(&from_files.stderr)
    );
    let a: serde_json::Value = serde_json::from_slice(&in_memory.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&from_files.stdout).unwrap();
    assert_eq!(a["recommended"], "accounts_5plus_meetings");
    assert_eq!(
        a, b,
        "the exported files evaluate exactly as the embedded dataset"
    );
}
