//! Subtitles from dialogue (DESIGN §4, the video's WebVTT/SRT track): [`layout`] spreads a
//! shot's dialogue lines over the shot as [`Cue`]s, and [`webvtt`] and [`srt`] write them out.
//!
//! Times are rounded to the nearest millisecond when written; rounding is monotonic, so cues that
//! do not overlap in seconds do not overlap once written.

use serde::{Deserialize, Serialize};

/// The longest subtitle line, in characters, before [`layout`] wraps it (a common broadcast limit).
pub const MAX_LINE_CHARS: usize = 42;

/// The gap [`layout`] leaves between consecutive cues, in seconds (less when a shot is short).
pub const CUE_GAP_S: f64 = 0.1;

/// One subtitle: a span of time and what is said in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cue {
    /// When it appears, in seconds from the start of the video.
    pub start_s: f64,
    /// When it disappears, in seconds from the start of the video.
    pub end_s: f64,
    /// Who speaks, if known: a WebVTT voice (`<v Speaker>`), and `SPEAKER: ` before an SRT text.
    pub speaker: Option<String>,
    /// What is said; `\n` separates its lines (at most two from [`layout`]).
    pub text: String,
}

/// The reading speed a line without its own time is given, in characters a second.
pub const READING_CPS: f64 = 15.0;

/// A line of a shot's dialogue, to be laid out as a cue.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CueLine {
    /// Who speaks, if known.
    pub speaker: Option<String>,
    /// What is said.
    pub text: String,
    /// How long it needs on screen, in seconds; one that is not positive counts its characters
    /// at [`READING_CPS`].
    pub seconds: f64,
    /// When it is heard, in seconds from the shot's start, when a voice speaks it.
    pub spoken: Option<(f64, f64)>,
}

/// Lays a shot's dialogue lines, in order, over the shot that starts at `start_s` and lasts
/// `duration_s` seconds.
///
/// When every line says when it is heard ([`CueLine::spoken`]), each cue starts as its line is
/// heard and stays until the line ends or, if longer, for the line's [`CueLine::seconds`], but
/// never into the next cue (less [`CUE_GAP_S`]) or past the shot. Otherwise each line gets a
/// share of the shot proportional to its seconds, consecutive cues are [`CUE_GAP_S`] apart (at
/// most a quarter of the shot in gaps all told), the first cue starts with the shot and the last
/// ends with it. Text is whitespace-normalised and wrapped with [`wrap_text`]; lines with no text
/// are skipped, and an empty speaker is no speaker. A shot with no length (or a non-finite time)
/// gets no cues.
pub fn layout(lines: &[CueLine], start_s: f64, duration_s: f64) -> Vec<Cue> {
    if !start_s.is_finite() || !duration_s.is_finite() || duration_s <= 0.0 {
        return Vec::new();
    }
    let lines: Vec<CueLine> = lines
        .iter()
        .filter_map(|line| {
            let text = line.text.split_whitespace().collect::<Vec<_>>().join(" ");
            let speaker = line
                .speaker
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            let chars = text.chars().count();
            let seconds = if line.seconds.is_finite() && line.seconds > 0.0 {
                line.seconds
            } else {
                chars as f64 / READING_CPS
            };
            (chars > 0).then(|| CueLine {
                speaker,
                text,
                seconds,
                // A line the speech does not reach (cut at the shot's end: no length) is not
                // timed to it; the shot is then shared out instead.
                spoken: line.spoken.filter(|(a, b)| a.is_finite() && b.is_finite() && a < b),
            })
        })
        .collect();
    if lines.is_empty() {
        return Vec::new();
    }
    let shot_end = start_s + duration_s;
    if lines.iter().all(|l| l.spoken.is_some()) {
        return timed_to_speech(lines, start_s, shot_end);
    }
    let gaps = (lines.len() - 1) as f64;
    let gap = if gaps > 0.0 {
        CUE_GAP_S.min(duration_s * 0.25 / gaps)
    } else {
        0.0
    };
    let speaking = duration_s - gap * gaps;
    let total: f64 = lines.iter().map(|l| l.seconds).sum();
    let mut done = 0.0;
    let mut cues = Vec::with_capacity(lines.len());
    for (i, line) in lines.into_iter().enumerate() {
        let offset = gap * i as f64;
        let start = (start_s + speaking * (done / total) + offset).min(shot_end);
        done += line.seconds;
        let end = (start_s + speaking * (done / total) + offset).clamp(start, shot_end);
        cues.push(Cue {
            start_s: start,
            end_s: end,
            speaker: line.speaker,
            text: wrap_text(&line.text),
        });
    }
    cues
}

/// Cues that start as their lines are heard, as [`layout`] says.
fn timed_to_speech(lines: Vec<CueLine>, start_s: f64, shot_end: f64) -> Vec<Cue> {
    let starts: Vec<f64> = lines
        .iter()
        .map(|l| (start_s + l.spoken.map_or(0.0, |s| s.0)).clamp(start_s, shot_end))
        .collect();
    let mut cues: Vec<Cue> = Vec::with_capacity(lines.len());
    for (i, line) in lines.into_iter().enumerate() {
        let after_previous = cues.last().map_or(start_s, |c| c.end_s);
        let start = starts[i].max(after_previous).min(shot_end);
        let heard_until = start_s + line.spoken.map_or(0.0, |s| s.1);
        let limit = starts
            .get(i + 1)
            .map_or(shot_end, |next| (next - CUE_GAP_S).min(shot_end));
        let end = heard_until.max(start + line.seconds).min(limit).max(start);
        cues.push(Cue {
            start_s: start,
            end_s: end,
            speaker: line.speaker,
            text: wrap_text(&line.text),
        });
    }
    cues
}

/// Wraps `text` (whitespace-normalised) onto at most two lines when it is longer than
/// [`MAX_LINE_CHARS`]: at the word boundary that makes the longer line shortest. Text with no
/// space to break at stays on one line.
pub fn wrap_text(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let joined = words.join(" ");
    let total = joined.chars().count();
    if total <= MAX_LINE_CHARS || words.len() < 2 {
        return joined;
    }
    // Break after word k (1..len): the first line holds words[..k].
    let mut best: Option<(usize, usize)> = None;
    let mut first_len = 0usize;
    for k in 1..words.len() {
        first_len += words[k - 1].chars().count() + usize::from(k > 1);
        let longer = first_len.max(total - first_len - 1);
        if best.is_none_or(|(_, b)| longer < b) {
            best = Some((k, longer));
        }
    }
    match best {
        Some((k, _)) => format!("{}\n{}", words[..k].join(" "), words[k..].join(" ")),
        None => joined,
    }
}

/// Writes cues as WebVTT: the `WEBVTT` header, then each cue's `HH:MM:SS.mmm --> HH:MM:SS.mmm`
/// line and its text, with a `<v Speaker>` voice tag when the speaker is known.
///
/// `&`, `<` and `>` are escaped (so text cannot hold `-->`, a tag, or an entity), blank lines
/// inside a text are dropped (they would end the cue), cues with no text are skipped, and an end
/// before the start is written as the start.
pub fn webvtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n");
    for cue in cues {
        let Some(lines) = text_lines(&cue.text) else { continue };
        let (start, end) = span_ms(cue);
        let text: Vec<String> = lines.iter().map(|line| vtt_escape(line)).collect();
        let voice = speaker_name(cue)
            .map(|s| format!("<v {}>", vtt_escape(&s)))
            .unwrap_or_default();
        out.push_str(&format!(
            "\n{} --> {}\n{voice}{}\n",
            timestamp(start, '.'),
            timestamp(end, '.'),
            text.join("\n")
        ));
    }
    out
}

/// Writes cues as SubRip (SRT): numbered from 1, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, the text, and a
/// blank line after each.
///
/// SRT has no voice tag, so a known speaker leads the text as `SPEAKER: `, the way subtitles
/// name who speaks (the same name as the WebVTT voice). Blank lines inside a text are dropped,
/// `-->` in a text becomes `->` (it would read as a timing line), cues with no text are skipped
/// (numbering stays consecutive), and an end before the start is written as the start.
pub fn srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    let mut number = 0usize;
    for cue in cues {
        let Some(lines) = text_lines(&cue.text) else { continue };
        number += 1;
        let (start, end) = span_ms(cue);
        let text: Vec<String> = lines
            .iter()
            .map(|line| {
                let mut line = (*line).to_owned();
                while line.contains("-->") {
                    line = line.replace("-->", "->");
                }
                line
            })
            .collect();
        let speaker = speaker_name(cue).map(|s| format!("{s}: ")).unwrap_or_default();
        out.push_str(&format!(
            "{number}\n{} --> {}\n{speaker}{}\n\n",
            timestamp(start, ','),
            timestamp(end, ','),
            text.join("\n")
        ));
    }
    out
}

/// A cue's speaker on one line, its spaces collapsed; `None` when unknown or blank.
fn speaker_name(cue: &Cue) -> Option<String> {
    cue.speaker
        .as_deref()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
}

/// A cue's text lines, trimmed, without blank ones; `None` when nothing is left.
fn text_lines(text: &str) -> Option<Vec<&str>> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    (!lines.is_empty()).then_some(lines)
}

/// A cue's start and end in whole milliseconds, the end no earlier than the start.
fn span_ms(cue: &Cue) -> (u64, u64) {
    let start = millis(cue.start_s);
    (start, millis(cue.end_s).max(start))
}

/// Seconds to the nearest millisecond; negative or non-finite times are 0.
fn millis(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        // `as` saturates: absurdly long times stay finite.
        (seconds * 1000.0).round() as u64
    } else {
        0
    }
}

/// `HH:MM:SS<sep>mmm` (hours grow past two digits when they must).
fn timestamp(ms: u64, sep: char) -> String {
    let hours = ms / 3_600_000;
    let minutes = ms / 60_000 % 60;
    let seconds = ms / 1000 % 60;
    let millis = ms % 1000;
    format!("{hours:02}:{minutes:02}:{seconds:02}{sep}{millis:03}")
}

/// Escapes WebVTT cue text: `&`, `<` and `>`.
fn vtt_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
