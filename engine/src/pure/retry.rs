//! Exponential backoff with jitter for failed runs.

use std::time::Duration;

use crate::pure::definition::RetryPolicy;

/// The delay before retry number `failures` (1 for the first failure). The jitter is derived from
/// `salt` (the instance and attempt), so the pure core stays deterministic while retries of
/// different instances spread out.
pub fn backoff(policy: &RetryPolicy, failures: u32, salt: &str) -> Duration {
    let exponent = failures.saturating_sub(1).min(64) as i32;
    let base = policy.initial_delay.as_secs_f64() * policy.multiplier.powi(exponent);
    let capped = base.min(policy.max_delay.as_secs_f64());
    let hash = blake3::hash(salt.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    // A uniform draw in [0, 1) from the hash's top 53 bits.
    let unit = (u64::from_le_bytes(first) >> 11) as f64 / (1u64 << 53) as f64;
    let factor = 1.0 - policy.jitter + 2.0 * policy.jitter * unit;
    Duration::from_secs_f64((capped * factor).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_within_jitter() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            multiplier: 2.0,
            jitter: 0.2,
        };
        for (failures, nominal) in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)] {
            let d = backoff(&policy, failures, &format!("x/{failures}")).as_secs_f64();
            assert!(
                d >= nominal * 0.8 - 1e-9 && d <= nominal * 1.2 + 1e-9,
                "{failures}: {d}"
            );
        }
    }

    #[test]
    fn jitter_spreads_instances() {
        let policy = RetryPolicy::default();
        let a = backoff(&policy, 1, "ep/a/1");
        let b = backoff(&policy, 1, "ep/b/1");
        assert_ne!(a, b);
        assert_eq!(a, backoff(&policy, 1, "ep/a/1"));
    }
}
