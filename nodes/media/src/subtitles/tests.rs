//! The subtitles' tests: layout, wrapping, and the written files read back.

use super::*;

fn cue(start_s: f64, end_s: f64, speaker: Option<&str>, text: &str) -> Cue {
    Cue {
        start_s,
        end_s,
        speaker: speaker.map(Into::into),
        text: text.into(),
    }
}

/// Lines that need a second per character: shares in proportion to their lengths.
fn lines(items: &[(Option<&str>, &str)]) -> Vec<CueLine> {
    items
        .iter()
        .map(|(s, t)| CueLine {
            speaker: s.map(Into::into),
            text: (*t).to_owned(),
            seconds: t.chars().count() as f64,
            spoken: None,
        })
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
fn layout_weighs_lines_by_the_time_they_need() {
    // A short line that needs 1.2 s beside a long one that needs 2.4 s, in a 3.7 s shot.
    let input = [
        CueLine {
            speaker: Some("STEEL".into()),
            text: "Beer's ready!".into(),
            seconds: 1.2,
            spoken: None,
        },
        CueLine {
            speaker: Some("BRICK".into()),
            text: "Are they cold? Tell me they are cold.".into(),
            seconds: 2.4,
            spoken: None,
        },
    ];
    let cues = layout(&input, 0.0, 3.7);
    assert!((cues[0].end_s - 1.2).abs() < 1e-9, "{cues:?}");
    assert!((cues[1].end_s - cues[1].start_s - 2.4).abs() < 1e-9, "{cues:?}");
}

#[test]
fn layout_follows_the_speech_and_keeps_short_lines_readable() {
    let spoken = |text: &str, seconds: f64, at: (f64, f64)| CueLine {
        speaker: None,
        text: text.into(),
        seconds,
        spoken: Some(at),
    };
    // The first line is heard for 0.4 s but stays 1.2 s; the second ends with its speech; the
    // third is cut at the shot's end.
    let cues = layout(
        &[
            spoken("Hi!", 1.2, (0.25, 0.65)),
            spoken("A longer line, heard longer than it needs.", 1.2, (1.6, 4.0)),
            spoken("Last.", 1.2, (4.3, 4.9)),
        ],
        10.0,
        5.0,
    );
    let times: Vec<(f64, f64)> = cues.iter().map(|c| (c.start_s - 10.0, c.end_s - 10.0)).collect();
    let want = [(0.25, 1.45), (1.6, 4.0), (4.3, 5.0)];
    for (got, want) in times.iter().zip(want) {
        assert!(
            (got.0 - want.0).abs() < 1e-9 && (got.1 - want.1).abs() < 1e-9,
            "{times:?}"
        );
    }
    // A line that would run into the next cue stops short of it.
    let close = layout(
        &[spoken("Hi!", 1.2, (0.0, 0.3)), spoken("Yes.", 1.2, (0.5, 1.5))],
        0.0,
        2.0,
    );
    assert!((close[0].end_s - 0.4).abs() < 1e-9, "{close:?}");
    // A line the speech did not reach (no length) leaves the shot to the shares.
    let cut = layout(
        &[spoken("Hi!", 1.0, (0.0, 0.5)), spoken("Gone.", 1.0, (2.0, 2.0))],
        0.0,
        2.0,
    );
    assert!(cut[1].end_s - cut[1].start_s > 0.5, "{cut:?}");
    // Without a time for every line, the shares are used.
    let mixed = layout(
        &[spoken("Hi!", 1.0, (0.0, 0.3)), lines(&[(None, "Yes.")])[0].clone()],
        0.0,
        2.0,
    );
    assert_eq!(mixed[0].start_s, 0.0);
    assert_eq!(mixed[1].end_s, 2.0);
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
        let input: Vec<CueLine> = (0..count)
            .map(|i| {
                let n = (next() % 25 + 1) as usize;
                let text: Vec<&str> = (0..n).map(|_| words[(next() % 8) as usize]).collect();
                CueLine {
                    speaker: Some(format!("S{i}")),
                    text: text.join(" "),
                    ..CueLine::default()
                }
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
