//! Seeded sampling over the tokens a constraint allows: repeat penalty, temperature, top-k,
//! top-p. The same seed, prompt and constraint give the same tokens.

use showrunner_story::rng::Rng;

/// How tokens are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Softmax temperature; `0` is greedy (the most likely allowed token).
    pub temperature: f32,
    /// Only the `top_k` most likely allowed tokens are candidates.
    pub top_k: usize,
    /// Of those, the smallest set whose probability reaches `top_p`.
    pub top_p: f32,
    /// Logits of recently generated tokens are divided (positive) or multiplied (negative) by it.
    pub repeat_penalty: f32,
    /// How many recent tokens the penalty looks back on.
    pub repeat_window: usize,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.7,
            top_k: 40,
            top_p: 0.9,
            repeat_penalty: 1.15,
            repeat_window: 64,
        }
    }
}

impl Sampling {
    /// Always the most likely allowed token.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_k: 1,
            top_p: 1.0,
            repeat_penalty: 1.0,
            repeat_window: 0,
        }
    }
}

/// Draws tokens with a seeded generator.
#[derive(Debug)]
pub struct Sampler {
    sampling: Sampling,
    rng: Rng,
}

impl Sampler {
    /// A sampler seeded with `seed`.
    pub fn new(sampling: Sampling, seed: u64) -> Self {
        Self {
            sampling,
            rng: Rng::derive(seed, "llm-sampler"),
        }
    }

    /// One token from `logits` among those `allowed`, penalising `recent` ones; `None` when the
    /// constraint allows nothing.
    pub fn sample(&mut self, logits: &[f32], allowed: &dyn Fn(u32) -> bool, recent: &[u32]) -> Option<u32> {
        let s = self.sampling;
        let window = &recent[recent.len().saturating_sub(s.repeat_window)..];
        let candidates = logits
            .iter()
            .enumerate()
            .filter(|(i, l)| l.is_finite() && allowed(*i as u32))
            .map(|(i, &l)| {
                let id = i as u32;
                let l = if s.repeat_penalty != 1.0 && window.contains(&id) {
                    if l > 0.0 {
                        l / s.repeat_penalty
                    } else {
                        l * s.repeat_penalty
                    }
                } else {
                    l
                };
                (id, l)
            });
        let by_logit = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if s.temperature <= 0.0 || s.top_k <= 1 {
            // Greedy: the first candidate in `by_logit` order, found in one pass rather than by
            // collecting the whole vocabulary (49k entries) and selecting from it.
            return candidates.min_by(by_logit).map(|(id, _)| id);
        }
        let mut candidates: Vec<(u32, f32)> = candidates.collect();
        if candidates.is_empty() {
            return None;
        }
        let k = s.top_k.max(1).min(candidates.len());
        if k < candidates.len() {
            candidates.select_nth_unstable_by(k - 1, by_logit);
            candidates.truncate(k);
        }
        candidates.sort_by(by_logit);
        if candidates.len() == 1 {
            return Some(candidates[0].0);
        }
        let top = candidates[0].1;
        let mut weights: Vec<f64> = candidates
            .iter()
            .map(|(_, l)| f64::from((l - top) / s.temperature).exp())
            .collect();
        let total: f64 = weights.iter().sum();
        let mut kept = 0.0;
        let mut cut = weights.len();
        for (i, w) in weights.iter().enumerate() {
            kept += w / total;
            if kept >= f64::from(s.top_p) {
                cut = i + 1;
                break;
            }
        }
        weights.truncate(cut);
        let total: f64 = weights.iter().sum();
        let mut point = self.rng.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if point < *w {
                return Some(candidates[i].0);
            }
            point -= w;
        }
        Some(candidates[cut - 1].0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_best_allowed_token() {
        let mut sampler = Sampler::new(Sampling::greedy(), 1);
        let logits = [0.1, 5.0, 2.0, 4.0];
        assert_eq!(sampler.sample(&logits, &|_| true, &[]), Some(1));
        assert_eq!(sampler.sample(&logits, &|t| t != 1, &[]), Some(3));
        assert_eq!(sampler.sample(&logits, &|_| false, &[]), None);
        // Ties go to the lower id; non-finite logits are never chosen.
        assert_eq!(sampler.sample(&[1.0, 3.0, 3.0, f32::NAN], &|_| true, &[]), Some(1));
        assert_eq!(sampler.sample(&[f32::INFINITY, 0.5], &|_| true, &[]), Some(1));
    }

    #[test]
    fn the_seed_decides_and_top_k_bounds_the_draw() {
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32).collect();
        let draw = |seed| {
            let mut sampler = Sampler::new(Sampling::default(), seed);
            (0..40)
                .map(|_| sampler.sample(&logits, &|_| true, &[]).expect("token"))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        // Only the best-scoring tokens (logit 6: ids 6, 13, 20, ...) and a few 5s survive top-k 40 / top-p 0.9.
        assert!(draw(3).iter().all(|&t| logits[t as usize] >= 5.0));
    }

    #[test]
    fn recent_tokens_are_penalised() {
        let sampling = Sampling {
            repeat_penalty: 10.0,
            ..Sampling::greedy()
        };
        let mut sampler = Sampler::new(
            Sampling {
                repeat_window: 8,
                ..sampling
            },
            1,
        );
        assert_eq!(sampler.sample(&[1.0, 3.0, 2.0], &|_| true, &[1]), Some(2));
    }
}
