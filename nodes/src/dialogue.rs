//! A shot's dialogue as one audio track: its lines spoken in order, laid out in the shot's time,
//! mixed, at 48 kHz (Opus's rate).
//!
//! The lines follow one another from a lead-in of [`LEAD_IN_S`] (at most a tenth of the shot),
//! [`GAP_S`] apart. When they do not fit:
//!
//! 1. the gaps shrink, down to [`MIN_GAP_S`];
//! 2. then every line is spoken again, faster, at the pace that makes them fit (the voice's own
//!    durations scale, which keeps the pitch), up to [`MAX_PACE`] (past that speech stops being
//!    understood);
//! 3. what still runs past the shot's end is cut there, with a [`FADE_S`] fade-out.
//!
//! The subtitles are laid out apart ([`showrunner_media::subtitles::layout`]): in the same order
//! over the same shot, but by the lines' lengths in characters, not by the speech.

use crate::backend::BackendResult;
use crate::backend::SpeechModel;
use showrunner_media::audio::{clamp, fade_out, mix_into, resample};

/// The track's sample rate: Opus's.
pub const TRACK_RATE: u32 = 48_000;

/// Silence before the first line, in seconds (at most a tenth of the shot).
pub const LEAD_IN_S: f64 = 0.25;

/// Silence between lines when there is room, in seconds.
pub const GAP_S: f64 = 0.3;

/// The shortest silence between lines, in seconds.
pub const MIN_GAP_S: f64 = 0.1;

/// The fastest lines are spoken to fit a shot: 1.5 times the voice's pace.
pub const MAX_PACE: f32 = 1.5;

/// The fade-out of a line cut at the shot's end, in seconds.
pub const FADE_S: f64 = 0.02;

/// The dialogue's level in the track (the voice peaks at full scale): headroom for a mix.
pub const DIALOGUE_GAIN: f32 = 0.8;

/// Extra speed asked for when lines are sped up: the voice's durations do not scale exactly.
const PACE_MARGIN: f64 = 1.03;

/// Where a line goes in the track, in samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Its first sample.
    pub start: usize,
    /// How much of it is kept: all of it, or what fits before the track's end.
    pub len: usize,
}

/// Seconds as samples of the track.
fn samples(seconds: f64) -> usize {
    (seconds * f64::from(TRACK_RATE)).round() as usize
}

/// The lead-in of a track of `track_len` samples.
fn lead_in(track_len: usize) -> usize {
    samples(LEAD_IN_S).min(track_len / 10)
}

/// How fast lines of `lengths` samples (at the voice's pace) must be spoken to fit a track of
/// `track_len` samples with the shortest gaps: 1 when they fit, at most [`MAX_PACE`].
pub fn pace_to_fit(lengths: &[usize], track_len: usize) -> f32 {
    let speech: usize = lengths.iter().sum();
    let gaps = lengths.len().saturating_sub(1) * samples(MIN_GAP_S);
    let room = track_len.saturating_sub(lead_in(track_len) + gaps);
    if speech <= room {
        return 1.0;
    }
    if room == 0 {
        return MAX_PACE;
    }
    ((speech as f64 / room as f64 * PACE_MARGIN) as f32).min(MAX_PACE)
}

/// Where lines of `lengths` samples go in a track of `track_len` samples: one after another
/// from the lead-in, with gaps of [`GAP_S`] shrunk as far as [`MIN_GAP_S`] to fit; a line that
/// runs past the end keeps what fits (a line that starts past it, nothing).
pub fn place(lengths: &[usize], track_len: usize) -> Vec<Span> {
    let lead = lead_in(track_len);
    let speech: usize = lengths.iter().sum();
    let gap = match lengths.len() {
        0 | 1 => 0,
        n => {
            let free = track_len.saturating_sub(lead + speech) / (n - 1);
            free.clamp(samples(MIN_GAP_S), samples(GAP_S))
        }
    };
    let mut at = lead;
    lengths
        .iter()
        .map(|&len| {
            let span = Span {
                start: at.min(track_len),
                len: len.min(track_len.saturating_sub(at)),
            };
            at += len + gap;
            span
        })
        .collect()
}

/// A shot's dialogue track, and where each line went in it.
#[derive(Debug, Clone, PartialEq)]
pub struct DialogueTrack {
    /// The mixed track at [`TRACK_RATE`].
    pub samples: Vec<f32>,
    /// Where each line with words went, in order, in samples of the track.
    pub spans: Vec<Span>,
}

impl DialogueTrack {
    /// A span of the track in seconds from its start.
    pub fn seconds(span: Span) -> (f64, f64) {
        let rate = f64::from(TRACK_RATE);
        (span.start as f64 / rate, (span.start + span.len) as f64 / rate)
    }
}

/// The dialogue `lines` spoken by `model` and mixed into a track of `track_len` samples at
/// [`TRACK_RATE`], laid out as the module says. Lines with no text are skipped; no lines give
/// silence.
///
/// # Errors
///
/// The model's, when a line cannot be spoken.
pub fn dialogue_track(model: &dyn SpeechModel, lines: &[&str], track_len: usize) -> BackendResult<DialogueTrack> {
    let lines: Vec<&str> = lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect();
    let mut track = vec![0.0f32; track_len];
    if lines.is_empty() || track_len == 0 {
        return Ok(DialogueTrack {
            samples: track,
            spans: Vec::new(),
        });
    }
    let mut spoken = speak_all(model, &lines, 1.0)?;
    let pace = pace_to_fit(&lengths(&spoken), track_len);
    if pace > 1.0 {
        tracing::debug!(pace, "speeding up the dialogue to fit its shot");
        spoken = speak_all(model, &lines, pace)?;
    }
    let spans = place(&lengths(&spoken), track_len);
    for (mut line, span) in spoken.into_iter().zip(&spans) {
        if span.len < line.len() {
            line.truncate(span.len);
            fade_out(&mut line, samples(FADE_S));
        }
        mix_into(&mut track, &line, span.start, DIALOGUE_GAIN);
    }
    clamp(&mut track);
    Ok(DialogueTrack { samples: track, spans })
}

/// Every line spoken at `pace`, at [`TRACK_RATE`].
fn speak_all(model: &dyn SpeechModel, lines: &[&str], pace: f32) -> BackendResult<Vec<Vec<f32>>> {
    lines
        .iter()
        .map(|line| {
            let speech = model.speak(line, pace)?;
            Ok(resample(&speech.samples, speech.sample_rate, TRACK_RATE))
        })
        .collect()
}

fn lengths(lines: &[Vec<f32>]) -> Vec<usize> {
    lines.iter().map(Vec::len).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Speech;
    use crate::model::Generator;

    const S: usize = TRACK_RATE as usize;

    #[test]
    fn lines_that_fit_follow_the_lead_in_with_full_gaps() {
        let spans = place(&[S, S / 2], 4 * S);
        assert_eq!(
            spans,
            [
                Span { start: S / 4, len: S },
                Span {
                    start: S / 4 + S + samples(GAP_S),
                    len: S / 2
                }
            ]
        );
        assert_eq!(pace_to_fit(&[S, S / 2], 4 * S), 1.0);
    }

    #[test]
    fn gaps_shrink_before_the_pace_changes() {
        // 2.7 s of speech in 3 lines and 3 s: a 0.25 s lead-in leaves 0.05 s of gaps; they
        // shrink to the minimum, and the last line is cut.
        let lengths = [S * 9 / 10; 3];
        let spans = place(&lengths, 3 * S);
        let gap = samples(MIN_GAP_S);
        assert_eq!(spans[1].start, spans[0].start + lengths[0] + gap);
        assert_eq!(spans[2].start + spans[2].len, 3 * S);
        assert!(spans[2].len < lengths[2]);
        // Two lines of 1.3 s in 3 s fit with a gap between the minimum and the full one.
        let spans = place(&[S * 13 / 10; 2], 3 * S);
        let between = spans[1].start - (spans[0].start + spans[0].len);
        assert!(between > samples(MIN_GAP_S) && between < samples(GAP_S), "{between}");
        assert_eq!(pace_to_fit(&[S * 13 / 10; 2], 3 * S), 1.0);
    }

    #[test]
    fn too_much_speech_is_sped_up_then_cut() {
        // 3.2 s of speech in 3 s: 1.24× with the margin.
        let pace = pace_to_fit(&[S * 8 / 5; 2], 3 * S);
        let room = 3 * S - lead_in(3 * S) - samples(MIN_GAP_S);
        let want = (S * 16 / 5) as f64 / room as f64 * PACE_MARGIN;
        assert!((f64::from(pace) - want).abs() < 1e-4, "{pace} vs {want}");
        assert_eq!(pace_to_fit(&[10 * S], S), MAX_PACE);
        assert_eq!(pace_to_fit(&[S], 0), MAX_PACE);
        // A line past the end keeps nothing; the lead-in is a tenth of a short shot.
        let spans = place(&[S, S, S], S);
        assert_eq!(
            spans[0],
            Span {
                start: S / 10,
                len: S - S / 10
            }
        );
        assert_eq!(spans[2].len, 0);
        assert!(place(&[], S).is_empty());
    }

    /// A voice that says every character as 10 ms of a constant level, at 24 kHz, sped up by
    /// the pace.
    struct Beeper;

    impl SpeechModel for Beeper {
        fn generator(&self) -> Generator {
            Generator {
                backend: "test".into(),
                model: "beeper".into(),
                seed: 0,
            }
        }

        fn speak(&self, text: &str, pace: f32) -> BackendResult<Speech> {
            let len = (text.chars().count() as f32 * 240.0 / pace) as usize;
            Ok(Speech {
                samples: vec![0.5; len],
                sample_rate: 24_000,
            })
        }
    }

    #[test]
    fn a_track_mixes_the_lines_at_their_places() -> BackendResult<()> {
        // Two lines of 50 characters: 0.5 s each, in a 3 s shot.
        let line = "x".repeat(50);
        let DialogueTrack { samples: track, spans } = dialogue_track(&Beeper, &[&line, "  ", &line], 3 * S)?;
        assert_eq!(track.len(), 3 * S);
        assert_eq!(spans.len(), 2, "one span per line with words");
        assert_eq!(DialogueTrack::seconds(spans[0]), (0.25, 0.75));
        let loud = |range: std::ops::Range<usize>| track[range].iter().all(|&s| (s - 0.4).abs() < 0.02);
        let quiet = |range: std::ops::Range<usize>| track[range].iter().all(|&s| s.abs() < 0.02);
        let lead = S / 4;
        assert!(quiet(0..lead - 100));
        assert!(loud(lead + 100..lead + S / 2 - 100));
        let second = lead + S / 2 + samples(GAP_S);
        assert!(quiet(lead + S / 2 + 100..second - 100));
        assert!(loud(second + 100..second + S / 2 - 100));
        assert!(quiet(second + S / 2 + 100..3 * S));
        Ok(())
    }

    #[test]
    fn a_track_too_short_for_its_lines_speeds_them_up_and_fades_the_cut() -> BackendResult<()> {
        // 3 s of speech for a 1 s shot: 1.5× (the most), then cut with a fade.
        let line = "x".repeat(300);
        let DialogueTrack { samples: track, spans } = dialogue_track(&Beeper, &[&line], S)?;
        assert_eq!(track.len(), S);
        assert_eq!(spans[0].start + spans[0].len, S, "the cut line ends with the track");
        assert!((track[S / 2] - 0.4).abs() < 0.02);
        assert!(track[S - 1].abs() < 0.05, "{}", track[S - 1]);
        assert!(dialogue_track(&Beeper, &[], S)?.samples.iter().all(|&s| s == 0.0));
        assert!(dialogue_track(&Beeper, &[&line], 0)?.samples.is_empty());
        Ok(())
    }
}
