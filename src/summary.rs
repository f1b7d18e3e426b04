//! Summary statistics of measured samples: medians and quantiles. Pure.
//!
//! Two definitions of the median are in use, and each caller keeps its own:
//! [`median`] (the mean of the two middle values for an even count, as the
//! `compare` tables report) and [`upper_median`] (the upper of the two, a
//! sample that was measured, as the benchmarks report). [`quantile`] and
//! [`quartiles`] interpolate linearly between the closest ranks (type 7 of
//! Hyndman and Fan, as R and NumPy default to).

/// The finite values, ascending.
fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The median of the finite values: the middle one, or the mean of the two
/// middle ones for an even count; `None` if there is no finite value.
pub fn median(values: &[f64]) -> Option<f64> {
    let v = sorted_finite(values);
    let n = v.len();
    if n == 0 {
        return None;
    }
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
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
}
