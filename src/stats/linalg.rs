//! Ordinary least squares by Householder QR (numerically stable for the small, possibly
//! ill-conditioned lag matrices of AR fits and Granger tests).

/// Result of an OLS fit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ols {
    pub(crate) coefficients: Vec<f64>,
    /// Residual sum of squares.
    pub(crate) rss: f64,
    pub(crate) residuals: Vec<f64>,
}

/// Least squares `y ≈ X b` where `rows[i]` is row i of X. `None` when X is rank deficient
/// or has more columns than rows.
pub(crate) fn ols(rows: &[Vec<f64>], y: &[f64]) -> Option<Ols> {
    let n = rows.len();
    let k = rows.first().map_or(0, Vec::len);
    if n == 0 || k == 0 || n < k || y.len() != n {
        return None;
    }
    let mut qr = Qr::default();
    qr.a.extend((0..k).flat_map(|j| rows.iter().map(move |r| r[j])));
    let b = qr.solve(n, k, y)?.to_vec();
    let residuals: Vec<f64> = rows
        .iter()
        .zip(y)
        .map(|(r, yi)| yi - r.iter().zip(&b).map(|(x, bj)| x * bj).sum::<f64>())
        .collect();
    let rss = residuals.iter().map(|e| e * e).sum();
    Some(Ols {
        coefficients: b,
        rss,
        residuals,
    })
}

/// Householder QR least squares with buffers kept between fits (the AR order search runs
/// thousands of small fits per lead test).
#[derive(Default)]
pub(crate) struct Qr {
    /// X, column-major: `a[j * n + i]` is row i of column j. Fill it, then call `solve`.
    pub(crate) a: Vec<f64>,
    qty: Vec<f64>,
    v: Vec<f64>,
    b: Vec<f64>,
}

impl Qr {
    /// Coefficients of `y ≈ X b` for the `n × k` matrix in `a` (overwritten); `None` when X is
    /// rank deficient or `n < k`.
    pub(crate) fn solve(&mut self, n: usize, k: usize, y: &[f64]) -> Option<&[f64]> {
        let fitted = self.factor(n, k, y).len();
        (fitted == k).then(|| self.coefficients(n, k))
    }

    /// Householder QR of the `n × k` matrix in `a` (overwritten) against `y`, column by column.
    /// Returns, for each leading block of `j = 1..` columns that is of full rank, the residual
    /// sum of squares of `y` on those columns (the sum of squares of `Q'y` below row `j`):
    /// one factorisation fits every nested model. Stops at the first column that makes the
    /// block rank deficient.
    pub(crate) fn factor(&mut self, n: usize, k: usize, y: &[f64]) -> Vec<f64> {
        let mut rss = Vec::with_capacity(k);
        if n == 0 || k == 0 || n < k || y.len() != n || self.a.len() != n * k {
            return rss;
        }
        let a = &mut self.a;
        self.qty.clear();
        self.qty.extend_from_slice(y);
        let qty = &mut self.qty;
        let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1.0);
        for j in 0..k {
            let column = &a[j * n..(j + 1) * n];
            let norm = column[j..].iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm <= 1e-12 * scale {
                return rss;
            }
            let alpha = if column[j] > 0.0 { -norm } else { norm };
            let v = &mut self.v;
            v.clear();
            v.extend_from_slice(&column[j..]);
            v[0] -= alpha;
            let v_norm2: f64 = v.iter().map(|x| x * x).sum();
            if v_norm2 != 0.0 {
                for c in j..k {
                    let col = &mut a[c * n + j..(c + 1) * n];
                    let dot: f64 = v.iter().zip(col.iter()).map(|(vi, ci)| vi * ci).sum();
                    let f = 2.0 * dot / v_norm2;
                    for (ci, vi) in col.iter_mut().zip(v.iter()) {
                        *ci -= f * vi;
                    }
                }
                let dot: f64 = v.iter().zip(&qty[j..]).map(|(vi, yi)| vi * yi).sum();
                let f = 2.0 * dot / v_norm2;
                for (yi, vi) in qty[j..].iter_mut().zip(v.iter()) {
                    *yi -= f * vi;
                }
            }
            rss.push(qty[j + 1..].iter().map(|e| e * e).sum());
        }
        rss
    }

    /// Coefficients of the model on the first `k` columns, after [`Qr::factor`] reached them:
    /// back substitution on the upper triangle `R b = Q'y` (later reflections leave both the
    /// leading block of R and the first `k` entries of `Q'y` unchanged).
    pub(crate) fn coefficients(&mut self, n: usize, k: usize) -> &[f64] {
        self.b.clear();
        self.b.resize(k, 0.0);
        let (a, qty, b) = (&self.a, &self.qty, &mut self.b);
        for i in (0..k).rev() {
            let mut s = qty[i];
            for j in i + 1..k {
                s -= a[j * n + i] * b[j];
            }
            b[i] = s / a[i * n + i];
        }
        &self.b
    }
}

/// Lower Cholesky factor of a positive semi-definite matrix; a direction already spanned by
/// earlier ones (two candidates with the same contributions) gets a zero column.
pub(crate) fn cholesky(sigma: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let k = sigma.len();
    let mut l = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = (0..j).map(|m| l[i][m] * l[j][m]).sum();
            if i == j {
                let d = sigma[i][i] - s;
                l[i][i] = if d > 1e-12 { d.sqrt() } else { 0.0 };
            } else if l[j][j] > 0.0 {
                l[i][j] = (sigma[i][j] - s) / l[j][j];
            }
        }
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_line() {
        // y = 2 + 3x, computed by hand.
        let rows: Vec<Vec<f64>> = (0..5).map(|x| vec![1.0, x as f64]).collect();
        let y: Vec<f64> = (0..5).map(|x| 2.0 + 3.0 * x as f64).collect();
        let fit = ols(&rows, &y).unwrap();
        assert!((fit.coefficients[0] - 2.0).abs() < 1e-12);
        assert!((fit.coefficients[1] - 3.0).abs() < 1e-12);
        assert!(fit.rss < 1e-20);
    }

    #[test]
    fn residual_sum_of_squares_by_hand() {
        // x = 0,1,2; y = 0,2,1: slope 0.5, intercept 0.5, residuals -0.5, 1, -0.5 -> RSS 1.5.
        let rows = vec![vec![1.0, 0.0], vec![1.0, 1.0], vec![1.0, 2.0]];
        let fit = ols(&rows, &[0.0, 2.0, 1.0]).unwrap();
        assert!((fit.coefficients[1] - 0.5).abs() < 1e-12);
        assert!((fit.rss - 1.5).abs() < 1e-12);
    }

    #[test]
    fn one_factorisation_fits_every_nested_model() {
        // y on (1), (1, x), (1, x, x^2) fitted separately and from one factorisation.
        let xs: Vec<f64> = (0..9).map(f64::from).collect();
        let y: Vec<f64> = xs
            .iter()
            .map(|x| 1.0 + 0.5 * x + 0.1 * x * x + (x * 7.0).sin())
            .collect();
        let columns = |k: usize| -> Vec<Vec<f64>> {
            xs.iter()
                .map(|x| (0..k).map(|p| x.powi(p as i32)).collect())
                .collect()
        };
        let mut qr = Qr {
            a: (0..3)
                .flat_map(|p| xs.iter().map(move |x| x.powi(p)))
                .collect(),
            ..Qr::default()
        };
        let rss = qr.factor(9, 3, &y);
        assert_eq!(rss.len(), 3);
        for k in 1..=3 {
            let separate = ols(&columns(k), &y).unwrap();
            assert!((rss[k - 1] - separate.rss).abs() < 1e-9 * separate.rss.max(1.0));
            for (b, s) in qr.coefficients(9, k).iter().zip(&separate.coefficients) {
                assert!((b - s).abs() < 1e-9, "{b} {s}");
            }
        }
    }

    #[test]
    fn rank_deficient_is_none() {
        let rows = vec![vec![1.0, 2.0], vec![2.0, 4.0], vec![3.0, 6.0]];
        assert!(ols(&rows, &[1.0, 2.0, 3.0]).is_none());
    }
}
