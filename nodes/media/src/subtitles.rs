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

/// Spreads a shot's dialogue lines, `(speaker, text)` in order, over the shot that starts at
/// `start_s` and lasts `duration_s` seconds.
///
/// Each line gets a share of the shot proportional to its length in characters, consecutive cues
/// are [`CUE_GAP_S`] apart (at most a quarter of the shot in gaps all told), the first cue starts
/// with the shot and the last ends with it, and no cue ends past the shot's end. Text is
/// whitespace-normalised and wrapped with [`wrap_text`]; lines with no text are skipped, and an
/// empty speaker is no speaker. A shot with no length (or a non-finite time) gets no cues.
pub fn layout(lines: &[(Option<String>, String)], start_s: f64, duration_s: f64) -> Vec<Cue> {
    if !start_s.is_finite() || !duration_s.is_finite() || duration_s <= 0.0 {
        return Vec::new();
    }
    let lines: Vec<(Option<String>, String, usize)> = lines
        .iter()
        .filter_map(|(speaker, text)| {
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let speaker = speaker
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            let weight = text.chars().count();
            (weight > 0).then_some((speaker, text, weight))
        })
        .collect();
    if lines.is_empty() {
        return Vec::new();
    }
    let gaps = (lines.len() - 1) as f64;
    let gap = if gaps > 0.0 {
        CUE_GAP_S.min(duration_s * 0.25 / gaps)
    } else {
        0.0
    };
    let speaking = duration_s - gap * gaps;
    let total: usize = lines.iter().map(|(_, _, weight)| weight).sum();
    let shot_end = start_s + duration_s;
    let mut done = 0usize;
    let mut cues = Vec::with_capacity(lines.len());
    for (i, (speaker, text, weight)) in lines.into_iter().enumerate() {
        let offset = gap * i as f64;
        let start = (start_s + speaking * (done as f64 / total as f64) + offset).min(shot_end);
        done += weight;
        let end = (start_s + speaking * (done as f64 / total as f64) + offset).clamp(start, shot_end);
        cues.push(Cue {
            start_s: start,
            end_s: end,
            speaker,
            text: wrap_text(&text),
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
mod tests {
    use super::*;

    fn cue(start_s: f64, end_s: f64, speaker: Option<&str>, text: &str) -> Cue {
        Cue {
            start_s,
            end_s,
            speaker: speaker.map(Into::into),
            text: text.into(),
        }
    }

    fn lines(items: &[(Option<&str>, &str)]) -> Vec<(Option<String>, String)> {
        items
            .iter()
            .map(|(s, t)| (s.map(Into::into), (*t).to_owned()))
            .collect()
    }

    /// A parsed-back cue: start and end in ms, the voice (VTT), the text lines.
    #[derive(Debug, PartialEq)]
    struct Parsed {
        start: u64,
        end: u64,
        voice: Option<String>,
        text: Vec<String>,
    }

    /// `HH:MM:SS<sep>mmm` back to ms, checking each field's range.
    fn parse_time(s: &str, sep: char) -> u64 {
        let (hms, ms) = s.split_once(sep).unwrap_or_else(|| panic!("no {sep:?} in {s:?}"));
        let parts: Vec<u64> = hms
            .split(':')
            .map(|p| p.parse().unwrap_or_else(|e| panic!("{p:?}: {e}")))
            .collect();
        let [h, m, sec] = parts[..] else {
            panic!("bad time {s:?}")
        };
        assert!(m < 60 && sec < 60 && ms.len() == 3 && hms.len() >= 8, "bad time {s:?}");
        let ms: u64 = ms.parse().unwrap_or_else(|e| panic!("{ms:?}: {e}"));
        ((h * 60 + m) * 60 + sec) * 1000 + ms
    }

    fn parse_timing(line: &str, sep: char) -> (u64, u64) {
        let (a, b) = line
            .split_once(" --> ")
            .unwrap_or_else(|| panic!("not a timing line: {line:?}"));
        (parse_time(a, sep), parse_time(b, sep))
    }

    /// A tiny WebVTT reader: header, then blocks of timing line + text lines, blank-separated.
    fn read_vtt(vtt: &str) -> Vec<Parsed> {
        let body = vtt
            .strip_prefix("WEBVTT\n")
            .unwrap_or_else(|| panic!("no header: {vtt:?}"));
        assert!(
            body.is_empty() || body.starts_with('\n'),
            "header not followed by a blank line"
        );
        body.split("\n\n")
            .map(|block| block.trim_matches('\n'))
            .filter(|block| !block.is_empty())
            .map(|block| {
                let mut it = block.lines();
                let (start, end) = parse_timing(it.next().unwrap_or_default(), '.');
                let mut raw: Vec<&str> = it.collect();
                assert!(!raw.is_empty() && raw.iter().all(|l| !l.contains("-->")));
                let mut voice = None;
                if let Some(rest) = raw[0].strip_prefix("<v ") {
                    let (name, first) = rest.split_once('>').unwrap_or_else(|| panic!("open voice tag"));
                    voice = Some(unescape_text(name));
                    raw[0] = first;
                }
                let text = raw
                    .iter()
                    .map(|line| {
                        assert!(!line.contains(['<', '>']), "unescaped markup in {line:?}");
                        unescape_text(line)
                    })
                    .collect();
                Parsed {
                    start,
                    end,
                    voice,
                    text,
                }
            })
            .collect()
    }

    fn unescape_text(s: &str) -> String {
        s.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    }

    /// A tiny SRT reader: number, timing line, text lines, blank line.
    fn read_srt(srt: &str) -> Vec<Parsed> {
        assert!(srt.is_empty() || srt.ends_with("\n\n"));
        srt.split("\n\n")
            .filter(|block| !block.is_empty())
            .enumerate()
            .map(|(i, block)| {
                let mut it = block.lines();
                assert_eq!(it.next(), Some((i + 1).to_string().as_str()), "numbering");
                let (start, end) = parse_timing(it.next().unwrap_or_default(), ',');
                let text: Vec<String> = it.map(str::to_owned).collect();
                assert!(!text.is_empty() && text.iter().all(|l| !l.contains("-->")));
                Parsed {
                    start,
                    end,
                    voice: None,
                    text,
                }
            })
            .collect()
    }

    #[test]
    fn timestamps_round_to_the_millisecond_and_carry() {
        assert_eq!(timestamp(millis(0.0), '.'), "00:00:00.000");
        assert_eq!(timestamp(millis(3599.9995), '.'), "01:00:00.000");
        assert_eq!(timestamp(millis(3599.9994), '.'), "00:59:59.999");
        assert_eq!(timestamp(millis(59.9996), ','), "00:01:00,000");
        assert_eq!(timestamp(millis(3661.5), ','), "01:01:01,500");
        assert_eq!(timestamp(millis(0.0004), '.'), "00:00:00.000");
        assert_eq!(timestamp(millis(360_000.25), '.'), "100:00:00.250");
        assert_eq!(millis(-3.0), 0);
        assert_eq!(millis(f64::NAN), 0);
        assert_eq!(millis(f64::INFINITY), 0);
    }

    #[test]
    fn webvtt_output() {
        let cues = [
            cue(1.0, 2.5, Some("Bob"), "Hello there."),
            cue(2.6, 3599.9995, None, "Line one\nLine two"),
        ];
        assert_eq!(
            webvtt(&cues),
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\n<v Bob>Hello there.\n\n\
             00:00:02.600 --> 01:00:00.000\nLine one\nLine two\n"
        );
        assert_eq!(webvtt(&[]), "WEBVTT\n");
    }

    #[test]
    fn webvtt_escapes_text_and_voice() {
        let cues = [cue(
            0.0,
            1.0,
            Some("Tom & <Jerry>\nJr"),
            "a --> b <i>x</i> & c\n\n\nnext",
        )];
        let vtt = webvtt(&cues);
        assert_eq!(
            vtt,
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n\
             <v Tom &amp; &lt;Jerry&gt; Jr>a --&gt; b &lt;i&gt;x&lt;/i&gt; &amp; c\nnext\n"
        );
        let back = read_vtt(&vtt);
        assert_eq!(back[0].voice.as_deref(), Some("Tom & <Jerry> Jr"));
        assert_eq!(back[0].text, ["a --> b <i>x</i> & c", "next"]);
    }

    #[test]
    fn srt_output() {
        let cues = [
            cue(1.0, 2.5, Some("Bob"), "Hello there."),
            cue(2.0, 2.1, None, "  \n "),
            cue(2.6, 2.0, None, "a ---> b\nsecond"),
        ];
        let srt = srt(&cues);
        assert_eq!(
            srt,
            "1\n00:00:01,000 --> 00:00:02,500\nBob: Hello there.\n\n\
             2\n00:00:02,600 --> 00:00:02,600\na -> b\nsecond\n\n"
        );
        assert_eq!(read_srt(&srt).len(), 2);
        assert_eq!(super::srt(&[]), "");
    }

    #[test]
    fn wrapping_at_a_word_boundary_onto_two_lines() {
        assert_eq!(wrap_text("  short   and sweet "), "short and sweet");
        let long = "The lighthouse has not been lit for forty years, and it never will be again.";
        let wrapped = wrap_text(long);
        let parts: Vec<&str> = wrapped.split('\n').collect();
        assert_eq!(parts.len(), 2);
        assert!(
            parts
                .iter()
                .all(|p| p.chars().count() <= MAX_LINE_CHARS && !p.starts_with(' '))
        );
        assert_eq!(parts.join(" "), long);
        // Longer than two full lines: still two lines, balanced.
        let longer = "word ".repeat(30);
        let wrapped = wrap_text(&longer);
        let parts: Vec<&str> = wrapped.split('\n').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts[0].len().abs_diff(parts[1].len()) <= 5);
        // No space to break at.
        let word = "x".repeat(60);
        assert_eq!(wrap_text(&word), word);
        // Exactly at the limit stays whole; multibyte text counts characters.
        let at_limit = "é".repeat(20) + " " + &"é".repeat(21);
        assert_eq!(wrap_text(&at_limit), at_limit);
    }

    #[test]
    fn layout_spreads_lines_proportionally() {
        let cues = layout(
            &lines(&[
                (Some("ANN"), "0123456789"),
                (None, "01234567890123456789012345678901234567"),
            ]),
            10.0,
            4.9,
        );
        let [a, b] = &cues[..] else { panic!("{cues:?}") };
        // 4.9 s less one 0.1 s gap = 4.8 s, shared 10:38.
        assert_eq!(a.start_s, 10.0);
        assert!((a.end_s - 11.0).abs() < 1e-9, "{a:?}");
        assert!((b.start_s - 11.1).abs() < 1e-9, "{b:?}");
        assert_eq!(b.end_s, 14.9);
        assert_eq!(a.speaker.as_deref(), Some("ANN"));
        assert_eq!(b.speaker, None);
    }

    #[test]
    fn layout_edge_cases() {
        assert!(layout(&[], 0.0, 5.0).is_empty());
        assert!(layout(&lines(&[(None, "Hi")]), 0.0, 0.0).is_empty());
        assert!(layout(&lines(&[(None, "Hi")]), f64::NAN, 1.0).is_empty());
        assert!(layout(&lines(&[(None, "   ")]), 0.0, 1.0).is_empty());
        let one = layout(&lines(&[(Some("  "), "Hello   world"), (None, "")]), 2.0, 3.0);
        assert_eq!(one, [cue(2.0, 5.0, None, "Hello world")]);
        let long = layout(&lines(&[(Some("BOB"), &"blah ".repeat(20))]), 0.0, 3.0);
        assert_eq!(long[0].text.lines().count(), 2);
    }

    /// Pseudo-random shots (a fixed LCG): laid out, written, read back.
    #[test]
    fn cues_never_overlap_or_pass_the_shot_once_written() {
        let mut state: u64 = 0x5eed;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        let words = ["a", "hello", "lighthouse", "never", "again", "x", "forty-two", "storm"];
        for _ in 0..500 {
            let start = (next() % 4_000_000) as f64 / 997.0;
            let duration = (next() % 20_000 + 1) as f64 / 1009.0;
            let count = (next() % 8 + 1) as usize;
            let input: Vec<(Option<String>, String)> = (0..count)
                .map(|i| {
                    let n = (next() % 25 + 1) as usize;
                    let text: Vec<&str> = (0..n).map(|_| words[(next() % 8) as usize]).collect();
                    (Some(format!("S{i}")), text.join(" "))
                })
                .collect();
            let cues = layout(&input, start, duration);
            assert_eq!(cues.len(), count);
            assert_eq!(cues[0].start_s, start);
            for pair in cues.windows(2) {
                assert!(pair[0].end_s <= pair[1].start_s, "{pair:?}");
            }
            for c in &cues {
                assert!(c.start_s <= c.end_s && c.end_s <= start + duration, "{c:?}");
                assert!(c.text.lines().count() <= 2);
            }
            let shot_end = millis(start + duration);
            for (back, sep) in [(read_vtt(&webvtt(&cues)), '.'), (read_srt(&srt(&cues)), ',')] {
                assert_eq!(back.len(), count, "{sep}");
                assert_eq!(back[0].start, millis(start));
                for pair in back.windows(2) {
                    assert!(pair[0].end <= pair[1].start, "{pair:?}");
                }
                for (parsed, cue) in back.iter().zip(&cues) {
                    assert!(parsed.start <= parsed.end && parsed.end <= shot_end);
                    let said = cue.text.replace('\n', " ");
                    if sep == '.' {
                        assert_eq!(parsed.text.join(" "), said);
                        assert_eq!(parsed.voice, cue.speaker);
                    } else {
                        let named = cue.speaker.as_ref().map_or(said.clone(), |s| format!("{s}: {said}"));
                        assert_eq!(
                            parsed.text.join(" "),
                            named,
                            "the SRT names the speaker as the VTT does"
                        );
                    }
                }
            }
        }
    }
}
