//! Family-wise error control over every test of a run: the Westfall–Young step-down minP
//! adjustment (Westfall & Young 1993, Algorithm 2.8; Ge, Dudoit & Speed 2003), on null draws
//! shared by every test so that the dependence between the tests is kept.
//!
//! Each test j has an observed statistic `T_j` (larger is stronger evidence) and, in each null
//! draw b, a statistic `T*_bj` computed on the same draw for every test. With B draws:
//!
//! 1. raw p-values `p_j = (1 + #{b : T*_bj ≥ T_j}) / (1 + B)`;
//! 2. null p-values of every draw, the observed statistic counted as one of the B + 1 values:
//!    `p*_bj = #{v ∈ {T_j, T*_1j, …, T*_Bj} : v ≥ T*_bj} / (1 + B)`, so that under the null
//!    hypothesis the observed p-value and the null ones are exchangeable;
//! 3. with the tests ordered by raw p (`p_(1) ≤ … ≤ p_(m)`), the successive minima from the
//!    bottom `q_b(i) = min_{k ≥ i} p*_{b,(k)}` and `p̃_(i) = (1 + #{b : q_b(i) < p_(i)}) / (1 + B)`;
//! 4. monotone: `p_adj(i) = max(p_adj(i−1), p̃_(i))`.
//!
//! m identical tests get `p_adj = p` exactly; m independent ones get Šidák's
//! `1 − (1 − p)^m` for the smallest, within Monte Carlo error (unit tests below).

use rayon::prelude::*;

/// The statistics of every test in every null draw, `draws × tests`, row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct NullDraws {
    tests: usize,
    values: Vec<f64>,
}

impl NullDraws {
    pub fn new(tests: usize) -> NullDraws {
        NullDraws {
            tests,
            values: Vec::new(),
        }
    }

    /// Add one draw: the statistic of every test in it.
    pub fn push(&mut self, draw: &[f64]) {
        debug_assert_eq!(draw.len(), self.tests);
        self.values.extend_from_slice(draw);
    }

    pub fn draws(&self) -> usize {
        self.values.len().checked_div(self.tests).unwrap_or(0)
    }

    pub fn get(&self, draw: usize, test: usize) -> f64 {
        self.values[draw * self.tests + test]
    }

    /// Every test's statistic in one draw.
    pub fn row(&self, draw: usize) -> &[f64] {
        &self.values[draw * self.tests..(draw + 1) * self.tests]
    }

    /// Test j's statistics over the draws.
    pub fn column(&self, test: usize) -> Vec<f64> {
        (0..self.draws()).map(|b| self.get(b, test)).collect()
    }
}

/// Raw p-value of one observed statistic against its null draws.
pub fn raw_p(observed: f64, null: &[f64]) -> f64 {
    let beaten = null.iter().filter(|v| **v >= observed).count();
    (1 + beaten) as f64 / (1 + null.len()) as f64
}

/// The null p-values of one test's draws, the observed statistic counted among the values:
/// `at_least(v) / (1 + B)`, `at_least(v)` the number of values `≥ v` (in `f64::total_cmp`'s
/// order), read off one sort of all the values, equal values together.
fn null_p_values(observed: f64, column: &[f64]) -> Vec<f64> {
    let mut all: Vec<(f64, u32)> = column.iter().copied().zip(0..).collect();
    all.push((observed, u32::MAX));
    // Descending.
    all.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let total = all.len() as f64;
    let mut out = vec![0.0; column.len()];
    let mut start = 0;
    while start < all.len() {
        let v = all[start].0;
        let end = start
            + all[start..]
                .iter()
                .take_while(|(x, _)| x.total_cmp(&v).is_eq())
                .count();
        for &(_, i) in &all[start..end] {
            if let Some(p) = out.get_mut(i as usize) {
                *p = end as f64 / total;
            }
        }
        start = end;
    }
    out
}

/// Raw and step-down minP adjusted p-values of every test. A test without an observed statistic
/// (`None`) is not in the family and gets `None` for both.
pub fn adjust(observed: &[Option<f64>], null: &NullDraws) -> Vec<Option<(f64, f64)>> {
    let all: Vec<usize> = (0..observed.len()).collect();
    TestNulls::new(observed, null).adjust(&all)
}

/// The raw p-value at or below which the first test of the family reaches an adjusted p of
/// `alpha`: the `floor(alpha (1 + B))`-th smallest of the draws' smallest null p-values (the
/// single-step minP level; later steps of the step-down only get easier). `None` when no raw
/// p-value can reach it.
pub fn critical_p(observed: &[Option<f64>], null: &NullDraws, alpha: f64) -> Option<f64> {
    TestNulls::new(observed, null).critical_p(alpha)
}

/// Each test's raw p-value and null p-values, worked out once for every adjustment over any
/// subset of the tests ([`adjust`] of a subset's observed statistics and null columns is
/// [`TestNulls::adjust`] of its indices, bit for bit).
pub struct TestNulls {
    draws: usize,
    /// Per test: its raw p and null p-values; `None` when it has no finite observed statistic.
    tests: Vec<Option<(f64, Vec<f64>)>>,
}

impl TestNulls {
    pub fn new(observed: &[Option<f64>], null: &NullDraws) -> TestNulls {
        let draws = null.draws();
        // Each test on its own (on any thread: the same values).
        let tests = observed
            .par_iter()
            .enumerate()
            .map(|(j, observed)| {
                let observed = observed.filter(|o| o.is_finite() && draws > 0)?;
                let column = null.column(j);
                Some((raw_p(observed, &column), null_p_values(observed, &column)))
            })
            .collect();
        TestNulls { draws, tests }
    }

    /// Raw and step-down minP adjusted p-values of the tests `subset`, as one family, in the
    /// order of `subset`.
    pub fn adjust(&self, subset: &[usize]) -> Vec<Option<(f64, f64)>> {
        let draws = self.draws;
        let mut out = vec![None; subset.len()];
        let members: Vec<(usize, f64, &[f64])> = subset
            .iter()
            .enumerate()
            .filter_map(|(k, &j)| {
                let (raw, null_p) = self.tests[j].as_ref()?;
                Some((k, *raw, null_p.as_slice()))
            })
            .collect();
        if members.is_empty() {
            return out;
        }
        // Ascending raw p; ties keep the order of the tests, so the result does not depend on it.
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by(|a, b| members[*a].1.total_cmp(&members[*b].1).then(a.cmp(b)));
        let mut successive = vec![f64::INFINITY; draws];
        let mut counts = vec![0usize; order.len()];
        for (rank, &member) in order.iter().enumerate().rev() {
            let (_, p, null_p) = members[member];
            for (q, null_p) in successive.iter_mut().zip(null_p) {
                *q = q.min(*null_p);
                counts[rank] += usize::from(*q < p);
            }
        }
        let mut running: f64 = 0.0;
        for (rank, &member) in order.iter().enumerate() {
            let adjusted = (1 + counts[rank]) as f64 / (1 + draws) as f64;
            running = running.max(adjusted).min(1.0);
            let (k, raw, _) = members[member];
            out[k] = Some((raw, running));
        }
        out
    }

    /// [`critical_p`] of all the tests.
    pub fn critical_p(&self, alpha: f64) -> Option<f64> {
        let draws = self.draws;
        let mut minima = vec![f64::INFINITY; draws];
        let mut any = false;
        for (_, null_p) in self.tests.iter().flatten() {
            any = true;
            for (min, p) in minima.iter_mut().zip(null_p) {
                *min = min.min(*p);
            }
        }
        if !any {
            return None;
        }
        minima.sort_by(f64::total_cmp);
        let allowed = (alpha * (1 + draws) as f64 + 1e-9).floor() as usize;
        (allowed >= 1).then(|| minima[allowed - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn null_p_values_count_the_values_at_least_as_large() {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        // Few distinct values (ties), both zeros, infinities and a NaN: counted in
        // `total_cmp`'s order, the observed value among them.
        let pool = [
            -1.5,
            -0.0,
            0.0,
            0.25,
            2.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for observed in [0.25, 1.0, f64::NEG_INFINITY, -0.0] {
            let column: Vec<f64> = (0..500)
                .map(|_| pool[rng.random_range(0..pool.len())])
                .collect();
            let got = null_p_values(observed, &column);
            for (v, p) in column.iter().zip(&got) {
                let at_least = column
                    .iter()
                    .chain([&observed])
                    .filter(|x| x.total_cmp(v).is_ge())
                    .count();
                assert_eq!(*p, at_least as f64 / 501.0, "{v} with observed {observed}");
            }
        }
    }

    #[test]
    fn a_subset_of_the_shared_nulls_is_adjusted_as_that_family_alone() {
        let mut rng = ChaCha8Rng::seed_from_u64(19);
        let mut null = NullDraws::new(6);
        for _ in 0..999 {
            let common: f64 = rng.random();
            let row: Vec<f64> = (0..6)
                .map(|_| 0.3 * common + (rng.random::<f64>() * 20.0).round() / 20.0)
                .collect();
            null.push(&row);
        }
        let observed = [
            Some(0.9),
            None,
            Some(1.1),
            Some(0.6),
            Some(f64::NAN),
            Some(0.95),
        ];
        let nulls = TestNulls::new(&observed, &null);
        for subset in [
            vec![0, 1, 2, 3, 4, 5],
            vec![5, 2],
            vec![3],
            vec![1, 4],
            vec![4, 0, 3],
        ] {
            let mut alone = NullDraws::new(subset.len());
            for b in 0..null.draws() {
                let row: Vec<f64> = subset.iter().map(|&k| null.get(b, k)).collect();
                alone.push(&row);
            }
            let own: Vec<Option<f64>> = subset.iter().map(|&k| observed[k]).collect();
            assert_eq!(nulls.adjust(&subset), adjust(&own, &alone), "{subset:?}");
        }
        let all: Vec<usize> = (0..6).collect();
        assert_eq!(nulls.adjust(&all), adjust(&observed, &null));
        assert_eq!(nulls.critical_p(0.05), critical_p(&observed, &null, 0.05));
        assert!(nulls.adjust(&all).iter().flatten().count() == 4);
    }

    #[test]
    fn raw_p_counts_the_draws_at_least_as_large() {
        // 2 of 4 draws reach 3: (1 + 2) / 5.
        assert_eq!(raw_p(3.0, &[1.0, 3.0, 5.0, 2.0]), 0.6);
        assert_eq!(raw_p(9.0, &[1.0, 3.0]), 1.0 / 3.0);
    }

    #[test]
    fn identical_tests_keep_their_p() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut null = NullDraws::new(5);
        for _ in 0..999 {
            let t: f64 = rng.random();
            null.push(&[t; 5]);
        }
        for observed in [0.5, 0.9, 0.99, 0.999, 2.0] {
            let out = adjust(&[Some(observed); 5], &null);
            for (raw, adjusted) in out.into_iter().flatten() {
                assert_eq!(raw, adjusted, "observed {observed}");
            }
        }
    }

    #[test]
    fn independent_tests_match_sidak() {
        let m = 10;
        let draws = 20_000;
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut null = NullDraws::new(m);
        for _ in 0..draws {
            let row: Vec<f64> = (0..m).map(|_| rng.random::<f64>()).collect();
            null.push(&row);
        }
        // Uniform statistics: the smallest raw p is about 1 - observed.
        for best in [0.999, 0.995, 0.99, 0.98] {
            let mut observed = vec![Some(0.1); m];
            observed[4] = Some(best);
            let (raw, adjusted) = adjust(&observed, &null)[4].unwrap();
            let sidak = 1.0 - (1.0 - raw).powi(m as i32);
            // Monte Carlo error of a proportion near `sidak` over 20,000 draws, four-fold.
            let tolerance = 4.0 * (sidak * (1.0 - sidak) / draws as f64).sqrt() + 1e-3;
            assert!(
                (adjusted - sidak).abs() < tolerance,
                "raw {raw}: adjusted {adjusted}, Šidák {sidak}"
            );
        }
    }

    #[test]
    fn the_critical_level_is_where_the_first_test_crosses_alpha() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let mut null = NullDraws::new(6);
        for _ in 0..1999 {
            let row: Vec<f64> = (0..6).map(|_| rng.random::<f64>()).collect();
            null.push(&row);
        }
        let level = critical_p(&[Some(0.5); 6], &null, 0.05).unwrap();
        // About Šidák's level for six independent tests.
        let sidak = 1.0 - 0.95f64.powf(1.0 / 6.0);
        assert!((level - sidak).abs() < 0.004, "{level} against {sidak}");
        // The best test is adjusted to at most alpha exactly when its raw p is at most the level.
        let mut crossed = (false, false);
        for step in 0..80 {
            let mut observed = vec![Some(0.1); 6];
            observed[2] = Some(0.98 + 0.00025 * step as f64);
            let (raw, adjusted) = adjust(&observed, &null)[2].unwrap();
            assert_eq!(
                adjusted <= 0.05,
                raw <= level,
                "raw {raw} adjusted {adjusted} level {level}"
            );
            crossed = (crossed.0 || raw <= level, crossed.1 || raw > level);
        }
        assert_eq!(crossed, (true, true), "the sweep covers both sides");
    }

    #[test]
    fn step_down_is_monotone_and_never_below_raw() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut null = NullDraws::new(4);
        for _ in 0..2000 {
            let common: f64 = rng.random();
            let row: Vec<f64> = (0..4)
                .map(|_| 0.5 * common + 0.5 * rng.random::<f64>())
                .collect();
            null.push(&row);
        }
        let observed = [Some(0.95), Some(0.7), Some(0.85), None];
        let out = adjust(&observed, &null);
        assert_eq!(out[3], None);
        let mut pairs: Vec<(f64, f64)> = out.iter().flatten().copied().collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in pairs.windows(2) {
            assert!(w[0].1 <= w[1].1);
        }
        for (raw, adjusted) in pairs {
            assert!(adjusted >= raw);
        }
    }
}
