//! How an episode is rendered ([`Settings`]) and the one check of what a renderer can honour
//! ([`Settings::validate`]), which the API, the CLI and the backends share.

use std::ops::RangeInclusive;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How an episode is rendered; each setting left out takes its default. The bounds stated are
/// those [`Settings::validate`] checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The aspect ratio, as `W:H`.
    #[cfg_attr(feature = "openapi", schema(default = "16:9"))]
    pub aspect_ratio: String,
    /// Frame width in pixels: even, 16 to 3840.
    #[cfg_attr(
        feature = "openapi",
        schema(default = 640, minimum = 16, maximum = 3840, multiple_of = 2)
    )]
    pub width: u32,
    /// Frame height in pixels: even, 16 to 2160.
    #[cfg_attr(
        feature = "openapi",
        schema(default = 360, minimum = 16, maximum = 2160, multiple_of = 2)
    )]
    pub height: u32,
    /// Frames per second, 1 to 120.
    #[cfg_attr(feature = "openapi", schema(default = 24, minimum = 1, maximum = 120))]
    pub fps: u32,
    /// The length the episode aims at, 1 to 3600 seconds.
    #[cfg_attr(feature = "openapi", schema(default = 30.0, minimum = 1.0, maximum = 3600.0))]
    pub target_duration_s: f64,
    /// The visual style, in words.
    #[cfg_attr(feature = "openapi", schema(default = "storybook"))]
    pub style: String,
    /// The episode's seed: written as a decimal string, read as one or as a number
    /// ([`crate::seed`]).
    #[serde(with = "crate::seed")]
    #[schemars(schema_with = "crate::seed::json_schema")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::seed::Seed, default = "0"))]
    pub seed: u64,
    /// A person reviews each portrait, scene image and keyframe (a gate on every item of those
    /// fan-outs) instead of only whole stages.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    pub review_items: bool,
    /// How many candidates of each portrait and keyframe are made for a person to pick one
    /// from, 1 to 4 (1: no pick).
    #[serde(skip_serializing_if = "is_one")]
    #[cfg_attr(feature = "openapi", schema(default = 1, minimum = 1, maximum = 4))]
    pub candidates: u32,
}

/// Settings left at their defaults are not written, so an episode's input reads as before.
fn is_one(n: &u32) -> bool {
    *n == 1
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            aspect_ratio: "16:9".into(),
            width: 640,
            height: 360,
            fps: 24,
            target_duration_s: 30.0,
            style: "storybook".into(),
            seed: 0,
            review_items: false,
            candidates: 1,
        }
    }
}

/// Why settings cannot be honoured: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`settings.{field}` {reason}")]
pub struct SettingsError {
    /// The field of [`Settings`]: `width`, `height`, `fps`, `target_duration_s`.
    pub field: &'static str,
    /// What is wrong, e.g. `must be even, from 16 to 3840, not 641`.
    pub reason: String,
}

impl Settings {
    /// The aspect ratio of a `width`×`height` frame in lowest terms, as `W:H` (`16:9` for
    /// 640×360): what the settings say when a size alone is given.
    pub fn aspect_ratio_of(width: u32, height: u32) -> String {
        fn gcd(a: u32, b: u32) -> u32 {
            if b == 0 { a } else { gcd(b, a % b) }
        }
        let d = gcd(width, height).max(1);
        format!("{}:{}", width / d, height / d)
    }

    /// The smallest side of a frame, in pixels.
    pub const MIN_SIDE: u32 = 16;
    /// The widest frame (4K UHD), in pixels.
    pub const MAX_WIDTH: u32 = 3840;
    /// The tallest frame (4K UHD), in pixels.
    pub const MAX_HEIGHT: u32 = 2160;
    /// The frame rates allowed.
    pub const FPS: RangeInclusive<u32> = 1..=120;
    /// The lengths an episode may aim at, in seconds.
    pub const DURATION_S: RangeInclusive<f64> = 1.0..=3600.0;
    /// How many candidates a person may be offered.
    pub const CANDIDATES: RangeInclusive<u32> = 1..=4;

    /// How people review the fan-outs: the name of the workflow variant these settings ask
    /// for (`review-items`, `candidates-3`, `review-items-candidates-2`), or `None` for the
    /// default (whole stages, no candidates).
    pub fn review_variant(&self) -> Option<String> {
        review_variant(self.review_items, self.candidates)
    }

    /// Checks what a renderer can honour: the frame size ([`Settings::validate_size`]), the frame
    /// rate and the target length. The first field out of bounds is the error.
    pub fn validate(&self) -> Result<(), SettingsError> {
        Self::validate_size(self.width, self.height)?;
        if !Self::FPS.contains(&self.fps) {
            return Err(SettingsError {
                field: "fps",
                reason: format!(
                    "must be from {} to {}, not {}",
                    Self::FPS.start(),
                    Self::FPS.end(),
                    self.fps
                ),
            });
        }
        if !Self::CANDIDATES.contains(&self.candidates) {
            return Err(SettingsError {
                field: "candidates",
                reason: format!(
                    "must be from {} to {}, not {}",
                    Self::CANDIDATES.start(),
                    Self::CANDIDATES.end(),
                    self.candidates
                ),
            });
        }
        if !Self::DURATION_S.contains(&self.target_duration_s) {
            return Err(SettingsError {
                field: "target_duration_s",
                reason: format!(
                    "must be from {} to {} seconds, not {}",
                    Self::DURATION_S.start(),
                    Self::DURATION_S.end(),
                    self.target_duration_s
                ),
            });
        }
        Ok(())
    }

    /// Checks a frame size: each side even (H.264's 4:2:0 needs it), from
    /// [`MIN_SIDE`](Self::MIN_SIDE) up to [`MAX_WIDTH`](Self::MAX_WIDTH) ×
    /// [`MAX_HEIGHT`](Self::MAX_HEIGHT).
    pub fn validate_size(width: u32, height: u32) -> Result<(), SettingsError> {
        let side = |field: &'static str, v: u32, max: u32| {
            if v < Self::MIN_SIDE || v > max || v % 2 == 1 {
                Err(SettingsError {
                    field,
                    reason: format!("must be even, from {} to {max}, not {v}", Self::MIN_SIDE),
                })
            } else {
                Ok(())
            }
        };
        side("width", width, Self::MAX_WIDTH)?;
        side("height", height, Self::MAX_HEIGHT)
    }
}

/// The workflow variant that reviews each item (`review_items`) and offers `candidates` to pick
/// from; `None` for the default. Every stock workflow has one for each combination allowed.
pub fn review_variant(review_items: bool, candidates: u32) -> Option<String> {
    match (review_items, candidates) {
        (false, 1) => None,
        (true, 1) => Some("review-items".to_owned()),
        (false, n) => Some(format!("candidates-{n}")),
        (true, n) => Some(format!("review-items-candidates-{n}")),
    }
}

#[cfg(test)]
mod tests {
    use super::{Settings, SettingsError};

    fn with(change: impl FnOnce(&mut Settings)) -> Result<(), SettingsError> {
        let mut settings = Settings::default();
        change(&mut settings);
        settings.validate()
    }

    #[test]
    fn review_settings_are_bounded_named_and_left_out_at_their_defaults() {
        assert_eq!(with(|s| s.candidates = 0).map_err(|e| e.field), Err("candidates"));
        assert_eq!(with(|s| s.candidates = 5).map_err(|e| e.field), Err("candidates"));
        assert_eq!(with(|s| s.candidates = 4), Ok(()));
        let default = serde_json::to_value(Settings::default()).expect("json");
        assert!(default.get("review_items").is_none() && default.get("candidates").is_none());
        let asked: Settings =
            serde_json::from_value(serde_json::json!({"review_items": true, "candidates": 3})).expect("settings");
        assert_eq!(asked.review_variant().as_deref(), Some("review-items-candidates-3"));
        assert_eq!(Settings::default().review_variant(), None);
        assert_eq!(super::review_variant(false, 2).as_deref(), Some("candidates-2"));
        assert_eq!(super::review_variant(true, 1).as_deref(), Some("review-items"));
    }

    #[test]
    fn the_defaults_and_the_bounds_themselves_are_valid() {
        assert_eq!(Settings::default().validate(), Ok(()));
        assert_eq!(Settings::validate_size(16, 16), Ok(()));
        assert_eq!(Settings::validate_size(3840, 2160), Ok(()));
        assert_eq!(with(|s| s.fps = 120), Ok(()));
        assert_eq!(Settings::aspect_ratio_of(640, 360), Settings::default().aspect_ratio);
        assert_eq!(Settings::aspect_ratio_of(1080, 1920), "9:16");
        let unknown = serde_json::from_value::<Settings>(serde_json::json!({"duration": 10}));
        assert!(unknown.is_err_and(|e| e.to_string().contains("unknown field `duration`")));
        assert_eq!(with(|s| s.target_duration_s = 1.0), Ok(()));
    }

    #[test]
    fn each_field_out_of_bounds_is_named_with_its_bound() {
        let error = Settings::validate_size(641, 360).expect_err("odd");
        assert_eq!(error.field, "width");
        assert_eq!(
            error.to_string(),
            "`settings.width` must be even, from 16 to 3840, not 641"
        );
        assert_eq!(Settings::validate_size(640, 2162).expect_err("tall").field, "height");
        assert_eq!(Settings::validate_size(14, 360).expect_err("narrow").field, "width");
        assert_eq!(with(|s| s.fps = 0).expect_err("fps").field, "fps");
        let error = with(|s| s.target_duration_s = f64::NAN).expect_err("NaN");
        assert_eq!(error.field, "target_duration_s");
        assert_eq!(
            with(|s| s.target_duration_s = 3600.5).expect_err("long").field,
            "target_duration_s"
        );
    }
}
