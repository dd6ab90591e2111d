//! `nsm check`: every exit code, baseline comparisons, the JUnit file and GitHub annotations.

use std::path::{Path, PathBuf};

use crate::common::{data, nsm};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/saas")
        .join(name)
}

/// The example's config with another declared star.
fn config_with_star(dir: &Path, star: &str) -> PathBuf {
    let text = std::fs::read_to_string(example("nsm.toml")).unwrap();
    let text = text.replace(
        "name = \"accounts_5plus_meetings\"\n\n# accounts booking",
        &format!("name = \"{star}\"\n\n# accounts booking"),
    );
    assert!(
        text.contains(&format!("[north_star]\nname = \"{star}\"")),
        "star replaced"
    );
    let path = dir.join("nsm.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn check(config: &Path, extra: &[&str]) -> std::process::Output {
    nsm()
        .args(["check", "--surrogates", "199", "--events"])
        .arg(example("events.csv.gz"))
        .arg("--revenue")
        .arg(example("revenue.csv"))
        .arg("--config")
        .arg(config)
        .args(extra)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn save_baseline(dir: &Path) -> PathBuf {
    let path = dir.join("baseline.json");
    let status = nsm()
        .args([
            "evaluate",
            "--surrogates",
            "199",
            "--format",
            "json",
            "--events",
        ])
        .arg(example("events.csv.gz"))
        .arg("--revenue")
        .arg(example("revenue.csv"))
        .arg("--config")
        .arg(example("nsm.toml"))
        .arg("--output")
        .arg(&path)
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    path
}

#[test]
fn a_star_that_passes_both_tests_exits_0() {
    let output = check(&example("nsm.toml"), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(
        text.contains("ok   accounts_5plus_meetings: lead test passed: judged on its own p"),
        "{text}"
    );
    assert!(
        text.ends_with("nsm check: accounts_5plus_meetings passed\n"),
        "{text}"
    );
}

#[test]
fn a_vanity_star_fails_with_one_readable_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let output = check(&config_with_star(dir.path(), "registered_users"), &[]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("FAIL registered_users: churn test fail: it can never fall (it counts everyone ever seen), so it rises while customers churn"),
        "{text}"
    );
    assert!(text.ends_with("nsm check: registered_users FAILED\n"));
}

#[test]
fn baseline_score_drop_and_lost_passes() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = save_baseline(dir.path());
    // Against itself: passes.
    let same = check(
        &example("nsm.toml"),
        &["--baseline", baseline.to_str().unwrap()],
    );
    assert_eq!(same.status.code(), Some(0), "{}", stdout(&same));
    assert!(stdout(&same).contains("(+0.0; at most -10.0 allowed)"));
    // A baseline in which the star scored 20 points more: the drop fails the gate.
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).unwrap()).unwrap();
    let star = json["candidates"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["name"] == "accounts_5plus_meetings")
        .unwrap();
    let score = star["score"].as_f64().unwrap();
    star["score"] = serde_json::json!(score + 20.0);
    let higher = dir.path().join("higher.json");
    std::fs::write(&higher, serde_json::to_string(&json).unwrap()).unwrap();
    let dropped = check(
        &example("nsm.toml"),
        &["--baseline", higher.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(dropped.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&dropped.stdout).unwrap();
    assert_eq!(report["passed"], false);
    let drop = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "score drop")
        .unwrap();
    assert_eq!(drop["passed"], false);
    assert!(
        drop["message"]
            .as_str()
            .unwrap()
            .contains("(-20.0; at most -10.0 allowed)"),
        "{drop}"
    );
    // Allowing a 25-point drop passes again.
    let allowed = check(
        &example("nsm.toml"),
        &[
            "--baseline",
            higher.to_str().unwrap(),
            "--max-score-drop",
            "25",
        ],
    );
    assert_eq!(allowed.status.code(), Some(0));
    // registered_users "passed" the churn test in a doctored baseline: now it lost that pass.
    let star = json["candidates"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["name"] == "registered_users")
        .unwrap();
    star["churn"]["verdict"] = serde_json::json!("pass");
    let doctored = dir.path().join("doctored.json");
    std::fs::write(&doctored, serde_json::to_string(&json).unwrap()).unwrap();
    let lost = check(
        &config_with_star(dir.path(), "registered_users"),
        &["--baseline", doctored.to_str().unwrap()],
    );
    assert_eq!(lost.status.code(), Some(1));
    assert!(
        stdout(&lost)
            .contains("FAIL registered_users: churn test passed in the baseline and is now fail"),
        "{}",
        stdout(&lost)
    );
}

#[test]
fn another_candidate_outranking_the_star_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_star(dir.path(), "registered_users");
    let strict = stdout(&check(&config, &["--outrank-margin", "0"]));
    assert!(
        strict.contains("FAIL registered_users: accounts_5plus_meetings now outranks it by"),
        "{strict}"
    );
    let relaxed = stdout(&check(&config, &["--outrank-margin", "100"]));
    assert!(
        relaxed.contains(
            "ok   registered_users: no passing candidate outscores it by more than 100.0 points"
        ),
        "{relaxed}"
    );
}

/// The names of the failed checks in a `--format json` report.
fn failed_checks(output: &std::process::Output) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn junit_report_parses_with_one_case_per_check() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let output = check(
        &config_with_star(dir.path(), "registered_users"),
        &["--junit", junit.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(output.status.code(), Some(1));
    let failed = failed_checks(&output);
    assert!(failed.contains(&"churn test".to_string()), "{failed:?}");
    let text = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 3, "lead, churn, not outranked");
    assert_eq!(suite.attribute("tests"), Some("3"));
    assert_eq!(
        suite.attribute("failures"),
        Some(failed.len().to_string().as_str())
    );
    let junit_failed: Vec<String> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .map(|c| c.attribute("name").unwrap().to_string())
        .collect();
    assert_eq!(junit_failed, failed);
    assert!(cases
        .iter()
        .all(|c| c.attribute("classname") == Some("nsm.registered_users")));
}

#[test]
fn github_annotations_when_running_in_actions() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_star(dir.path(), "registered_users");
    let run = |github: bool| {
        let mut cmd = nsm();
        cmd.args(["check", "--surrogates", "199", "--events"])
            .arg(example("events.csv.gz"))
            .arg("--revenue")
            .arg(example("revenue.csv"))
            .arg("--config")
            .arg(&config);
        if github {
            cmd.env("GITHUB_ACTIONS", "true");
        } else {
            cmd.env_remove("GITHUB_ACTIONS");
        }
        stdout(&cmd.output().unwrap())
    };
    let plain = run(false);
    assert!(!plain.contains("::error"), "{plain}");
    let text = run(true);
    let annotations: Vec<&str> = text.lines().filter(|l| l.starts_with("::error")).collect();
    let fails = text.lines().filter(|l| l.starts_with("FAIL ")).count();
    assert_eq!(annotations.len(), fails, "{text}");
    assert!(
        annotations.contains(
            &"::error title=nsm check%3A churn test::registered_users: churn test fail: it can never fall (it counts everyone ever seen), so it rises while customers churn"
        ),
        "{annotations:?}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    // No config.
    let output = nsm()
        .args(["check", "--events"])
        .arg(data("tiny_events.csv"))
        .arg("--revenue")
        .arg(data("tiny_revenue_customers.csv"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs --config"));
    // A config without [north_star].
    let output = nsm()
        .args(["check", "--events"])
        .arg(data("tiny_events.csv"))
        .arg("--revenue")
        .arg(data("tiny_revenue_customers.csv"))
        .arg("--config")
        .arg(data("churn_nsm.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("has no [north_star]"));
    // A baseline that is not an evaluation.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"hello\": 1}").unwrap();
    let output = check(&example("nsm.toml"), &["--baseline", bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not an nsm evaluation"));
}
