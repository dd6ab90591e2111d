//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn nsm() -> Command {
    Command::cargo_bin("nsm").expect("the nsm binary is built")
}

/// `nsm evaluate` on these files (and `extra` arguments), expected to stop with exit 2 and
/// write nothing to stdout; returns its stderr.
pub fn input_error_of(
    events: &Path,
    revenue: &Path,
    config: Option<&Path>,
    extra: &[&str],
) -> String {
    let mut command = nsm();
    command
        .args(["evaluate", "--events"])
        .arg(events)
        .arg("--revenue")
        .arg(revenue);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let output = command.args(extra).output().expect("nsm runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty(), "{stderr}");
    stderr
}

/// Run nsm, expecting success, and parse its stdout as JSON.
pub fn json_of(args: &[&str]) -> serde_json::Value {
    let output = nsm().args(args).output().expect("nsm runs");
    assert!(
        output.status.success(),
        "nsm {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

/// `nsm evaluate --format json` (19 surrogates: the tests here read series and churn figures,
/// not lead p-values) on the given files, plus `extra` flags.
pub fn evaluate_json(
    events: &Path,
    revenue: &Path,
    config: &Path,
    extra: &[&str],
) -> serde_json::Value {
    let (events, revenue, config) = (
        events.to_str().unwrap(),
        revenue.to_str().unwrap(),
        config.to_str().unwrap(),
    );
    let mut args = vec![
        "evaluate",
        "--format",
        "json",
        "--surrogates",
        "19",
        "--events",
        events,
        "--revenue",
        revenue,
        "--config",
        config,
    ];
    args.extend(extra);
    json_of(&args)
}

/// A candidate's series values from a JSON evaluation.
pub fn series(json: &serde_json::Value, name: &str) -> Vec<f64> {
    let candidate = json["candidates"]
        .as_array()
        .expect("candidates array")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("candidate {name} in the output"));
    candidate["series"]
        .as_array()
        .expect("series array")
        .iter()
        .map(|p| p["value"].as_f64().expect("numeric value"))
        .collect()
}

pub fn periods(json: &serde_json::Value, name: &str) -> Vec<String> {
    let candidate = json["candidates"]
        .as_array()
        .expect("candidates array")
        .iter()
        .find(|c| c["name"] == name)
        .expect("candidate");
    candidate["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|p| p["period"].as_str().expect("period").to_string())
        .collect()
}

/// Write the demo dataset into `dir/demo`; returns its events, revenue and config paths.
pub fn write_demo_data(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let demo = dir.join("demo");
    nsm()
        .args(["demo", "--quiet", "--write-data"])
        .arg(&demo)
        .assert()
        .success();
    (
        demo.join("events.csv"),
        demo.join("revenue.csv"),
        demo.join("nsm.toml"),
    )
}

/// A standard normal draw (Box–Muller; 1 - u keeps the logarithm finite), for the planted
/// companies of the tests.
pub fn normal(rng: &mut rand_chacha::ChaCha8Rng) -> f64 {
    use rand::Rng;
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A Poisson draw (Knuth's multiplication method; small rates only).
pub fn poisson(rng: &mut rand_chacha::ChaCha8Rng, lambda: f64) -> u32 {
    use rand::Rng;
    let limit = (-lambda).exp();
    let mut product = rng.random::<f64>();
    let mut k = 0;
    while product > limit {
        product *= rng.random::<f64>();
        k += 1;
    }
    k
}
