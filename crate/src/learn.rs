//! Logistic regression on sparse features, for `flagpost tune`: rule weights learned from
//! which rules fired on labelled posts, and n-gram scorers learned from their words.
//!
//! Training minimises the mean (optionally class-balanced) log loss plus an L1 and an L2
//! penalty with accelerated proximal gradient steps (FISTA, with backtracking). L1 drives
//! most weights to exactly zero, which keeps a learned scorer small enough to ship inside a
//! pack; `non_negative` keeps weights at or above zero, as rule weights must be.

/// One training row: (feature, value) pairs, features in any order, each at most once.
pub type SparseRow = Vec<(u32, f32)>;

/// How to fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    pub l1: f64,
    pub l2: f64,
    pub non_negative: bool,
    /// Weigh the classes so that positives and negatives count equally in the loss.
    pub balance: bool,
    pub iterations: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            l1: 0.0,
            l2: 1e-3,
            non_negative: false,
            balance: true,
            iterations: 400,
        }
    }
}

/// A fitted linear scorer: `sigmoid(bias + Σ weight·value)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    pub bias: f64,
    pub weights: Vec<f64>,
}

impl Logistic {
    /// The linear part (log-odds) for a row.
    pub fn logit(&self, row: &[(u32, f32)]) -> f64 {
        self.bias
            + row
                .iter()
                .map(|&(f, v)| self.weights.get(f as usize).copied().unwrap_or(0.0) * f64::from(v))
                .sum::<f64>()
    }

    pub fn probability(&self, row: &[(u32, f32)]) -> f64 {
        sigmoid(self.logit(row))
    }
}

pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Fits a logistic regression. `features` is the number of distinct features (every index in
/// `rows` is below it).
pub fn fit(rows: &[SparseRow], labels: &[bool], features: usize, o: &FitOptions) -> Logistic {
    assert_eq!(rows.len(), labels.len(), "one label per row");
    let n = rows.len().max(1) as f64;
    let positives = labels.iter().filter(|&&l| l).count().max(1) as f64;
    let negatives = (labels.len() as f64 - positives).max(1.0);
    let sample_weight: Vec<f64> = labels
        .iter()
        .map(|&l| match (o.balance, l) {
            (false, _) => 1.0 / n,
            (true, true) => 0.5 / positives,
            (true, false) => 0.5 / negatives,
        })
        .collect();

    // Smooth part: weighted log loss + L2. Returns the loss and fills the gradient.
    let smooth = |w: &[f64], b: f64, grad: &mut Vec<f64>, gb: &mut f64| -> f64 {
        grad.iter_mut().for_each(|g| *g = 0.0);
        *gb = 0.0;
        let mut loss = 0.0;
        for ((row, &label), &sw) in rows.iter().zip(labels).zip(&sample_weight) {
            let z = b + row
                .iter()
                .map(|&(f, v)| w[f as usize] * f64::from(v))
                .sum::<f64>();
            let y = if label { 1.0 } else { 0.0 };
            // log(1 + e^z) - y·z, computed without overflow.
            loss += sw * (softplus(z) - y * z);
            let d = sw * (sigmoid(z) - y);
            *gb += d;
            for &(f, v) in row {
                grad[f as usize] += d * f64::from(v);
            }
        }
        for (g, &wi) in grad.iter_mut().zip(w) {
            *g += o.l2 * wi;
        }
        loss + 0.5 * o.l2 * w.iter().map(|x| x * x).sum::<f64>()
    };
    let prox = |v: f64, step: f64| -> f64 {
        let t = step * o.l1;
        let shrunk = if v > t {
            v - t
        } else if v < -t {
            v + t
        } else {
            0.0
        };
        if o.non_negative {
            shrunk.max(0.0)
        } else {
            shrunk
        }
    };

    let mut w = vec![0.0; features];
    let mut b = (positives / negatives).ln() * f64::from(u8::from(!o.balance));
    let (mut yw, mut yb) = (w.clone(), b);
    let mut t = 1.0f64;
    let mut step = 1.0f64;
    let mut grad = vec![0.0; features];
    let mut gb = 0.0;
    let mut next = vec![0.0; features];
    for _ in 0..o.iterations {
        let fy = smooth(&yw, yb, &mut grad, &mut gb);
        // Let the step grow again: a step shrunk once early on would slow every later one.
        step = (step * 1.5).min(1e4);
        // Backtracking: shrink the step until the quadratic bound holds.
        let mut next_b;
        loop {
            for ((nx, &y), &g) in next.iter_mut().zip(&yw).zip(&grad) {
                *nx = prox(y - step * g, step);
            }
            next_b = yb - step * gb;
            let fx = loss_at(rows, labels, &sample_weight, &next, next_b, o.l2);
            let mut bound = fy + (next_b - yb) * gb + (next_b - yb).powi(2) / (2.0 * step);
            for ((&nx, &y), &g) in next.iter().zip(&yw).zip(&grad) {
                let d = nx - y;
                bound += d * g + d * d / (2.0 * step);
            }
            if fx <= bound + 1e-12 || step < 1e-8 {
                break;
            }
            step *= 0.5;
        }
        // Restart the momentum when it points uphill (gradient-based restart).
        let uphill: f64 = next
            .iter()
            .zip(&w)
            .zip(&grad)
            .map(|((&nx, &wx), &g)| g * (nx - wx))
            .sum::<f64>()
            + gb * (next_b - b);
        if uphill > 0.0 {
            t = 1.0;
        }
        let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
        let momentum = (t - 1.0) / t_next;
        for k in 0..features {
            yw[k] = next[k] + momentum * (next[k] - w[k]);
        }
        yb = next_b + momentum * (next_b - b);
        std::mem::swap(&mut w, &mut next);
        b = next_b;
        t = t_next;
    }
    if o.non_negative {
        w.iter_mut().for_each(|x| *x = x.max(0.0));
    }
    Logistic {
        bias: b,
        weights: w,
    }
}

/// The smooth part of the objective alone (log loss and L2), for the step-size check.
fn loss_at(
    rows: &[SparseRow],
    labels: &[bool],
    sample_weight: &[f64],
    w: &[f64],
    b: f64,
    l2: f64,
) -> f64 {
    let mut loss = 0.0;
    for ((row, &label), &sw) in rows.iter().zip(labels).zip(sample_weight) {
        let z = b + row
            .iter()
            .map(|&(f, v)| w[f as usize] * f64::from(v))
            .sum::<f64>();
        let y = if label { 1.0 } else { 0.0 };
        loss += sw * (softplus(z) - y * z);
    }
    loss + 0.5 * l2 * w.iter().map(|x| x * x).sum::<f64>()
}

fn softplus(z: f64) -> f64 {
    if z > 30.0 {
        z
    } else if z < -30.0 {
        z.exp()
    } else {
        (1.0 + z.exp()).ln()
    }
}

/// A point on the precision–recall curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Operating {
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
    pub flagged: usize,
}

/// Every distinct threshold over `scores` (a post is flagged when its score ≥ threshold),
/// highest first, with precision and recall there.
pub fn curve(scores: &[f64], labels: &[bool]) -> Vec<Operating> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let positives = labels.iter().filter(|&&l| l).count();
    let mut out = Vec::new();
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < order.len() {
        let s = scores[order[i]];
        while i < order.len() && scores[order[i]] == s {
            if labels[order[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        out.push(Operating {
            threshold: s,
            precision: tp as f64 / (tp + fp) as f64,
            recall: if positives == 0 {
                1.0
            } else {
                tp as f64 / positives as f64
            },
            flagged: tp + fp,
        });
    }
    out
}

/// The threshold with the highest recall whose precision is at least `min_precision`; when
/// none reaches it, the one with the best F1.
pub fn choose_threshold(scores: &[f64], labels: &[bool], min_precision: f64) -> Operating {
    let points = curve(scores, labels);
    let meeting = points
        .iter()
        .filter(|p| p.precision + 1e-12 >= min_precision && p.recall > 0.0)
        .max_by(|a, b| {
            (a.recall, a.precision, a.threshold)
                .partial_cmp(&(b.recall, b.precision, b.threshold))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    if let Some(p) = meeting {
        return *p;
    }
    let f1 = |p: &Operating| {
        if p.precision + p.recall == 0.0 {
            0.0
        } else {
            2.0 * p.precision * p.recall / (p.precision + p.recall)
        }
    };
    points
        .iter()
        .max_by(|a, b| f1(a).total_cmp(&f1(b)))
        .copied()
        .unwrap_or(Operating {
            threshold: f64::INFINITY,
            precision: 1.0,
            recall: 0.0,
            flagged: 0,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_separable_rule_and_drops_noise() {
        // Feature 0 decides the label; feature 1 is noise on every other row.
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..200 {
            let y = i % 3 == 0;
            let mut row = vec![];
            if y {
                row.push((0, 1.0));
            }
            if i % 2 == 0 {
                row.push((1, 1.0));
            }
            rows.push(row);
            labels.push(y);
        }
        let m = fit(
            &rows,
            &labels,
            2,
            &FitOptions {
                l1: 0.01,
                ..FitOptions::default()
            },
        );
        assert!(m.weights[0] > 2.0, "{m:?}");
        assert!(m.weights[1].abs() < 0.05, "{m:?}");
        for (row, &y) in rows.iter().zip(&labels) {
            assert_eq!(m.probability(row) > 0.5, y);
        }
    }

    #[test]
    fn non_negative_weights_stay_at_or_above_zero() {
        let rows = vec![
            vec![(0, 1.0)],
            vec![(1, 1.0)],
            vec![(0, 1.0), (1, 1.0)],
            vec![],
        ];
        let labels = vec![true, false, true, false];
        let m = fit(
            &rows,
            &labels,
            2,
            &FitOptions {
                non_negative: true,
                ..FitOptions::default()
            },
        );
        assert!(m.weights.iter().all(|&w| w >= 0.0), "{m:?}");
        assert!(m.weights[0] > 0.5);
    }

    #[test]
    fn threshold_meets_the_precision_asked_for() {
        let scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
        let labels = [true, true, false, true, false, false];
        let p = choose_threshold(&scores, &labels, 0.75);
        assert_eq!(p.threshold, 0.6);
        assert_eq!((p.precision, p.recall), (0.75, 1.0));
        let p = choose_threshold(&scores, &labels, 1.0);
        assert_eq!(p.threshold, 0.8);
    }
}
