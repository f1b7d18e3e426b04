//! Summary statistics of measured samples: medians and quantiles. Pure.
//!
//! Two definitions of the median are in use, and each caller keeps its own:
//! [`median`] (the mean of the two middle values for an even count, as the
//! `compare` tables report) and [`upper_median`] (the upper of the two, a
//! sample that was measured, as the benchmarks report). [`quantile`] and
//! [`quartiles`] interpolate linearly between the closest ranks (type 7 of
//! Hyndman and Fan, as R and NumPy default to). [`median_ci`] and
//! [`rel_diff_ci`] are percentile-bootstrap confidence intervals, from a
//! seeded generator so that a table is the same every time it is made.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The finite values, ascending.
fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The median of ascending, non-empty `v`: the middle value, or the mean
/// of the two middle ones for an even count.
fn median_of_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The median of the finite values: the middle one, or the mean of the two
/// middle ones for an even count; `None` if there is no finite value.
pub fn median(values: &[f64]) -> Option<f64> {
    let v = sorted_finite(values);
    (!v.is_empty()).then(|| median_of_sorted(&v))
}

/// The value at rank `n / 2` of all values sorted (NaNs last): the middle
/// one, or the upper of the two middle ones for an even count, so always a
/// measured sample; `None` for no values.
pub fn upper_median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// The `q` quantile (0..=1) of ascending `sorted`, interpolating linearly
/// between the closest ranks; 0 for an empty slice.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = (pos.floor() as usize).min(n - 1);
    let hi = (pos.ceil() as usize).min(n - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The first and third quartiles of the finite values ([`quantile`] at 0.25
/// and 0.75); `None` if there is no finite value.
pub fn quartiles(values: &[f64]) -> Option<(f64, f64)> {
    let v = sorted_finite(values);
    if v.is_empty() {
        return None;
    }
    Some((quantile(&v, 0.25), quantile(&v, 0.75)))
}

/// Bootstrap resamples behind each confidence interval.
pub const BOOTSTRAP_RESAMPLES: usize = 4_000;

/// The confidence level of the tables' intervals.
pub const CONFIDENCE: f64 = 0.95;

/// The seed of every bootstrap (fixed: the interval is a function of the
/// samples alone).
const BOOTSTRAP_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// The median of `n` values drawn with replacement from ascending `v`.
fn resampled_median(v: &[f64], rng: &mut StdRng, scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend((0..v.len()).map(|_| v[rng.random_range(0..v.len())]));
    scratch.sort_by(f64::total_cmp);
    median_of_sorted(scratch)
}

/// The `(1 - level) / 2` and `(1 + level) / 2` quantiles of `stats`.
fn percentile_interval(mut stats: Vec<f64>, level: f64) -> (f64, f64) {
    stats.sort_by(f64::total_cmp);
    let a = (1.0 - level) / 2.0;
    (quantile(&stats, a), quantile(&stats, 1.0 - a))
}

/// A percentile-bootstrap [`CONFIDENCE`] interval for the median of the
/// finite values ([`BOOTSTRAP_RESAMPLES`] resamples); `None` for fewer than
/// two values, where there is nothing to resample. With few values the
/// interval is too narrow (the bootstrap cannot see tails it was not
/// shown): the tables print the run count beside it.
pub fn median_ci(values: &[f64]) -> Option<(f64, f64)> {
    let v = sorted_finite(values);
    if v.len() < 2 {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(BOOTSTRAP_SEED);
    let mut scratch = Vec::with_capacity(v.len());
    let stats = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| resampled_median(&v, &mut rng, &mut scratch))
        .collect();
    Some(percentile_interval(stats, CONFIDENCE))
}

/// A percentile-bootstrap [`CONFIDENCE`] interval for the relative
/// difference of medians `(median(base) - median(x)) / median(base)` (the
/// tables' "vs baseline", positive = faster), the two samples resampled
/// independently (they are separate runs); `None` when either has fewer
/// than two finite values or a resampled baseline median is not positive.
pub fn rel_diff_ci(base: &[f64], x: &[f64]) -> Option<(f64, f64)> {
    let (b, v) = (sorted_finite(base), sorted_finite(x));
    if b.len() < 2 || v.len() < 2 {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(BOOTSTRAP_SEED);
    let mut scratch = Vec::with_capacity(b.len().max(v.len()));
    let mut stats = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    for _ in 0..BOOTSTRAP_RESAMPLES {
        let mb = resampled_median(&b, &mut rng, &mut scratch);
        let mx = resampled_median(&v, &mut rng, &mut scratch);
        if mb <= 0.0 {
            return None;
        }
        stats.push((mb - mx) / mb);
    }
    Some(percentile_interval(stats, CONFIDENCE))
}

/// Ranks from 1, ties given the mean of the ranks they span.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = mean;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation of paired values: Pearson's correlation of
/// their ranks (ties averaged); `None` for fewer than three pairs, unequal
/// lengths, a non-finite value, or no spread in either.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 3 || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// A percentile-bootstrap [`CONFIDENCE`] interval for Spearman's rank
/// correlation between rows' relative differences of medians to one
/// baseline, `(median(base) - median(row)) / median(base)` (the tables'
/// "vs baseline"), and a fixed value per row (`against`: the paper's).
/// Each resample redraws the baseline's runs once and every row's runs
/// (a `None` row is the baseline itself: difference 0). `None` for fewer
/// than three rows, unequal lengths, a sample with fewer than two finite
/// values, or when fewer than half the resamples give a correlation (no
/// spread in a resample's differences).
pub fn spearman_rel_diff_ci(
    base: &[f64],
    rows: &[Option<&[f64]>],
    against: &[f64],
) -> Option<(f64, f64)> {
    if rows.len() != against.len() || rows.len() < 3 {
        return None;
    }
    let b = sorted_finite(base);
    let rows: Vec<Option<Vec<f64>>> = rows.iter().map(|r| r.map(sorted_finite)).collect();
    if b.len() < 2 || rows.iter().flatten().any(|r| r.len() < 2) {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(BOOTSTRAP_SEED);
    let mut scratch = Vec::new();
    let mut stats = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    let mut diffs = vec![0.0; rows.len()];
    for _ in 0..BOOTSTRAP_RESAMPLES {
        let mb = resampled_median(&b, &mut rng, &mut scratch);
        if mb <= 0.0 {
            return None;
        }
        for (d, r) in diffs.iter_mut().zip(&rows) {
            *d = match r {
                Some(v) => (mb - resampled_median(v, &mut rng, &mut scratch)) / mb,
                None => 0.0,
            };
        }
        if let Some(rho) = spearman(&diffs, against) {
            stats.push(rho);
        }
    }
    if stats.len() * 2 < BOOTSTRAP_RESAMPLES {
        return None;
    }
    Some(percentile_interval(stats, CONFIDENCE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn medians_and_quartiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN]), None);
        assert_eq!(quartiles(&[1.0, 2.0, 3.0, 4.0]), Some((1.75, 3.25)));
        assert_eq!(quartiles(&[f64::INFINITY]), None);
    }

    #[test]
    fn upper_median_is_a_sample() {
        assert_eq!(upper_median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(upper_median(&[4.0, 1.0, 2.0, 3.0]), Some(3.0));
        assert_eq!(upper_median(&[]), None);
    }

    #[test]
    fn quantile_interpolates_between_ranks() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!(close(quantile(&v, 0.25), 1.75));
        assert!(close(quantile(&v, 0.5), 2.5));
        assert!(close(quantile(&v, 0.75), 3.25));
        assert!(close(quantile(&v, 0.0), 1.0) && close(quantile(&v, 1.0), 4.0));
        assert!(close(quantile(&[7.0], 0.3), 7.0) && close(quantile(&[], 0.5), 0.0));
    }

    /// The median's interval holds the median, lies within the samples,
    /// narrows as samples are added, is the same every time, and needs two
    /// samples.
    #[test]
    fn median_intervals() {
        assert_eq!(median_ci(&[5.0]), None);
        assert_eq!(median_ci(&[f64::NAN, 1.0]), None);
        let few: Vec<f64> = (0..10).map(|i| 100.0 + (i * 37 % 11) as f64).collect();
        let (lo, hi) = median_ci(&few).unwrap();
        let m = median(&few).unwrap();
        assert!(lo <= m && m <= hi, "{lo} {m} {hi}");
        assert!(lo >= 100.0 && hi <= 110.0);
        assert_eq!(median_ci(&few), Some((lo, hi)));
        let many: Vec<f64> = (0..200).map(|i| 100.0 + (i * 37 % 11) as f64).collect();
        let (l2, h2) = median_ci(&many).unwrap();
        assert!(h2 - l2 < hi - lo, "{l2}-{h2} vs {lo}-{hi}");
        // Constant samples: a point.
        assert_eq!(median_ci(&[3.0, 3.0, 3.0]), Some((3.0, 3.0)));
    }

    /// The difference's interval holds the point estimate, excludes 0 for
    /// clearly separated samples and includes it for the same distribution.
    #[test]
    fn difference_intervals() {
        let base: Vec<f64> = (0..20).map(|i| 1000.0 + (i * 7 % 13) as f64).collect();
        let faster: Vec<f64> = base.iter().map(|x| x * 0.8).collect();
        let (lo, hi) = rel_diff_ci(&base, &faster).unwrap();
        assert!(
            lo > 0.15 && hi < 0.25 && lo <= 0.2 && 0.2 <= hi,
            "{lo} {hi}"
        );
        let same: Vec<f64> = (0..20).map(|i| 1000.0 + (i * 5 % 13) as f64).collect();
        let (lo, hi) = rel_diff_ci(&base, &same).unwrap();
        assert!(lo <= 0.0 && 0.0 <= hi, "{lo} {hi}");
        assert_eq!(rel_diff_ci(&[1.0], &[1.0, 2.0]), None);
        assert_eq!(rel_diff_ci(&[0.0, 0.0], &[1.0, 2.0]), None);
    }

    /// Same order 1, reversed -1, ties averaged (a textbook example), and
    /// the cases without an answer.
    #[test]
    fn rank_correlation() {
        assert!(close(
            spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 35.0]).unwrap(),
            1.0
        ));
        assert!(close(
            spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap(),
            -1.0
        ));
        assert_eq!(ranks(&[5.0, 1.0, 5.0, 3.0]), vec![3.5, 1.0, 3.5, 2.0]);
        // x ranks 1..5, y = [2, 1, 4, 3, 5]: Pearson of ranks = 0.8.
        let r = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 1.0, 4.0, 3.0, 5.0]).unwrap();
        assert!(close(r, 0.8), "{r}");
        assert_eq!(spearman(&[1.0, 2.0], &[1.0, 2.0]), None);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(spearman(&[1.0, f64::NAN, 2.0], &[1.0, 2.0, 3.0]), None);
    }

    /// Rows far apart in the paper's order give an interval at 1; rows
    /// whose runs overlap give a wide one that holds their point value;
    /// and the cases without an answer.
    #[test]
    fn rank_correlation_interval() {
        let runs =
            |centre: f64| -> Vec<f64> { (0..20).map(|i| centre + (i * 7 % 11) as f64).collect() };
        let base = runs(1000.0);
        let (r1, r2, r3) = (runs(900.0), runs(800.0), runs(700.0));
        let rows = [None, Some(&r1[..]), Some(&r2[..]), Some(&r3[..])];
        let paper = [0.0, 0.1, 0.2, 0.3];
        let (lo, hi) = spearman_rel_diff_ci(&base, &rows, &paper).unwrap();
        assert!(close(lo, 1.0) && close(hi, 1.0), "{lo} {hi}");
        // Three rows within a few ms of each other: their order is noise
        // (only the baseline's rank, always first, is certain).
        let (a, b, c) = (runs(900.0), runs(901.0), runs(902.0));
        let rows = [None, Some(&a[..]), Some(&b[..]), Some(&c[..])];
        let (lo, hi) = spearman_rel_diff_ci(&base, &rows, &paper).unwrap();
        assert!(lo < 0.5 && hi > 0.9, "{lo} {hi}");
        assert_eq!(spearman_rel_diff_ci(&base, &rows[..2], &paper[..2]), None);
        assert_eq!(spearman_rel_diff_ci(&base, &rows, &paper[..3]), None);
        let one = [5.0];
        let short = [None, Some(&one[..]), Some(&b[..]), Some(&c[..])];
        assert_eq!(spearman_rel_diff_ci(&base, &short, &paper), None);
    }
}
