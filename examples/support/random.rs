//! Random draws shared by the simulation examples (`calibrate`, `calibrate_runs`).

#![allow(dead_code)]

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Standard normal by Box–Muller; `1 − u` keeps the logarithm finite.
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Poisson by Knuth's multiplication method (a normal approximation above 30).
pub fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        return (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as u32;
    }
    let limit = (-lambda).exp();
    let mut product = rng.random::<f64>();
    let mut k = 0;
    while product > limit {
        product *= rng.random::<f64>();
        k += 1;
    }
    k
}

/// Gamma(shape, 1) by Marsaglia & Tsang (2000), boosted for shape < 1.
pub fn gamma(rng: &mut ChaCha8Rng, shape: f64) -> f64 {
    if shape < 1.0 {
        let u: f64 = rng.random::<f64>().max(1e-300);
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = rng.random();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// Student's t with `nu` degrees of freedom.
pub fn student_t(rng: &mut ChaCha8Rng, nu: f64) -> f64 {
    normal(rng) / (2.0 * gamma(rng, nu / 2.0) / nu).sqrt()
}
