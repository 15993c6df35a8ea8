//! A small ISO-BMFF box walker: what an MP4's first video track holds (duration, frames, size,
//! codec), and its first audio track (duration, packets, codec, sample rate, channels, Opus
//! pre-skip), read from `moov/trak/{tkhd, mdia/{mdhd, hdlr, minf/stbl/{stsd, stsz}}}`.

use std::ops::Range;

use crate::error::MediaError;

/// What an MP4 file's first video track holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Mp4Info {
    /// The track's duration in seconds (`mdhd` duration / timescale).
    pub duration_s: f64,
    /// Samples (frames) in the track (`stsz`).
    pub frames: u32,
    /// Coded width from the sample entry.
    pub width: u32,
    /// Coded height from the sample entry.
    pub height: u32,
    /// The sample entry's four-character code, e.g. `avc1`.
    pub codec: String,
    /// The first audio track, when there is one.
    pub audio: Option<AudioInfo>,
}

/// What an MP4 file's first audio track holds.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    /// The track's duration in seconds (`mdhd` duration / timescale): every packet, the
    /// encoder's delay included.
    pub duration_s: f64,
    /// Samples (packets) in the track (`stsz`).
    pub packets: u32,
    /// The sample entry's four-character code: `Opus`, `mp4a`.
    pub codec: String,
    /// The sample rate the sample entry declares.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// For Opus, the samples (at 48 kHz) a decoder drops at the start (`dOps`).
    pub pre_skip: Option<u16>,
}

impl AudioInfo {
    /// How long the audio plays: the duration less the Opus pre-skip.
    pub fn playable_s(&self) -> f64 {
        self.duration_s - f64::from(self.pre_skip.unwrap_or(0)) / 48_000.0
    }
}

/// A box: its type and where its payload (the bytes after its header) lies.
#[derive(Debug, Clone)]
pub(crate) struct BoxRef {
    pub(crate) kind: [u8; 4],
    pub(crate) payload: Range<usize>,
}

fn invalid(what: &str) -> MediaError {
    MediaError::Invalid(format!("not a usable MP4: {what}"))
}

fn be_u16(data: &[u8], at: usize) -> Result<u16, MediaError> {
    data.get(at..at + 2)
        .and_then(|b| b.try_into().ok())
        .map(u16::from_be_bytes)
        .ok_or_else(|| invalid("a box is cut short"))
}

pub(crate) fn be_u32(data: &[u8], at: usize) -> Result<u32, MediaError> {
    data.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| invalid("a box is cut short"))
}

pub(crate) fn be_u64(data: &[u8], at: usize) -> Result<u64, MediaError> {
    data.get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| invalid("a box is cut short"))
}

/// The boxes directly inside `range` of `data`.
pub(crate) fn children(data: &[u8], range: Range<usize>) -> Result<Vec<BoxRef>, MediaError> {
    let mut out = Vec::new();
    let mut at = range.start;
    while at < range.end {
        if range.end - at < 8 {
            return Err(invalid("trailing bytes after the last box"));
        }
        let size32 = be_u32(data, at)?;
        let kind: [u8; 4] = data
            .get(at + 4..at + 8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| invalid("a box header is cut short"))?;
        let (header, size) = match size32 {
            0 => (8, (range.end - at) as u64),
            1 => (16, be_u64(data, at + 8)?),
            n => (8, u64::from(n)),
        };
        let size = usize::try_from(size).map_err(|_| invalid("a box is too large"))?;
        if size < header || size > range.end - at {
            return Err(invalid(&format!(
                "box `{}` has a bad size",
                String::from_utf8_lossy(&kind)
            )));
        }
        out.push(BoxRef {
            kind,
            payload: at + header..at + size,
        });
        at += size;
    }
    Ok(out)
}

/// The first child of `range` of type `kind`.
pub(crate) fn child(data: &[u8], range: Range<usize>, kind: &[u8; 4]) -> Result<BoxRef, MediaError> {
    children(data, range)?
        .into_iter()
        .find(|b| &b.kind == kind)
        .ok_or_else(|| invalid(&format!("no `{}` box", String::from_utf8_lossy(kind))))
}

/// The box at `path` below `range` (first match at each level).
pub(crate) fn descend(data: &[u8], range: Range<usize>, path: &[&[u8; 4]]) -> Result<BoxRef, MediaError> {
    let mut current = BoxRef {
        kind: *b"root",
        payload: range,
    };
    for kind in path {
        current = child(data, current.payload.clone(), kind)?;
    }
    Ok(current)
}

/// The `trak` box of the first track whose `hdlr` type is `handler` (`vide`, `soun`).
pub(crate) fn trak_of(data: &[u8], handler: &[u8; 4]) -> Result<Option<BoxRef>, MediaError> {
    let moov = child(data, 0..data.len(), b"moov")?;
    for trak in children(data, moov.payload)?.into_iter().filter(|b| &b.kind == b"trak") {
        let hdlr = descend(data, trak.payload.clone(), &[b"mdia", b"hdlr"])?;
        // version/flags (4), pre_defined (4), handler_type (4).
        if data.get(hdlr.payload.start + 8..hdlr.payload.start + 12) == Some(handler.as_slice()) {
            return Ok(Some(trak));
        }
    }
    Ok(None)
}

/// The `trak` box of the first video track (`hdlr` type `vide`).
pub(crate) fn video_trak(data: &[u8]) -> Result<BoxRef, MediaError> {
    trak_of(data, b"vide")?.ok_or_else(|| invalid("no video track"))
}

/// A track's duration in seconds, from its `mdhd`.
fn track_duration(bytes: &[u8], mdia: &BoxRef) -> Result<f64, MediaError> {
    let mdhd = child(bytes, mdia.payload.clone(), b"mdhd")?.payload.start;
    let (timescale, duration) = match bytes.get(mdhd) {
        Some(1) => (be_u32(bytes, mdhd + 20)?, be_u64(bytes, mdhd + 24)?),
        Some(0) => (be_u32(bytes, mdhd + 12)?, u64::from(be_u32(bytes, mdhd + 16)?)),
        _ => return Err(invalid("unknown `mdhd` version")),
    };
    if timescale == 0 {
        return Err(invalid("`mdhd` timescale is 0"));
    }
    Ok(duration as f64 / f64::from(timescale))
}

/// A track's sample count (`stsz`) and its first sample entry (in `stsd`).
fn samples_and_entry(bytes: &[u8], stbl: &BoxRef) -> Result<(u32, BoxRef), MediaError> {
    // stsz: version/flags (4), sample_size (4), sample_count (4).
    let stsz = child(bytes, stbl.payload.clone(), b"stsz")?.payload.start;
    let count = be_u32(bytes, stsz + 8)?;
    // stsd: version/flags (4), entry_count (4), then sample entries (boxes).
    let stsd = child(bytes, stbl.payload.clone(), b"stsd")?;
    let entry = children(bytes, stsd.payload.start + 8..stsd.payload.end)?
        .into_iter()
        .next()
        .ok_or_else(|| invalid("`stsd` has no sample entry"))?;
    Ok((count, entry))
}

/// Bytes of an audio sample entry's own fields, before its child boxes: reserved (6),
/// data_reference_index (2), reserved (8), channelcount (2), samplesize (2), pre_defined (2),
/// reserved (2), samplerate (4, 16.16).
pub(crate) const AUDIO_ENTRY_FIELDS: usize = 28;

/// The Opus pre-skip of an `Opus` sample entry, from its `dOps`: version (1),
/// output channel count (1), pre-skip (2).
pub(crate) fn opus_pre_skip(bytes: &[u8], entry: &BoxRef) -> Result<u16, MediaError> {
    let boxes = entry.payload.start + AUDIO_ENTRY_FIELDS..entry.payload.end;
    if boxes.start > boxes.end {
        return Err(invalid("the `Opus` sample entry is cut short"));
    }
    let dops = child(bytes, boxes, b"dOps")?.payload.start;
    be_u16(bytes, dops + 2)
}

/// The first audio track's facts, when there is one.
fn audio_info(bytes: &[u8]) -> Result<Option<AudioInfo>, MediaError> {
    let Some(trak) = trak_of(bytes, b"soun")? else {
        return Ok(None);
    };
    let mdia = child(bytes, trak.payload, b"mdia")?;
    let duration_s = track_duration(bytes, &mdia)?;
    let stbl = descend(bytes, mdia.payload, &[b"minf", b"stbl"])?;
    let (packets, entry) = samples_and_entry(bytes, &stbl)?;
    let at = entry.payload.start;
    let channels = be_u16(bytes, at + 16)?;
    let sample_rate = be_u32(bytes, at + 24)? >> 16;
    let pre_skip = if &entry.kind == b"Opus" {
        Some(opus_pre_skip(bytes, &entry)?)
    } else {
        None
    };
    Ok(Some(AudioInfo {
        duration_s,
        packets,
        codec: String::from_utf8_lossy(&entry.kind).into_owned(),
        sample_rate,
        channels,
        pre_skip,
    }))
}

/// Reads an MP4 file's first video track (duration, frame count, size and codec) and its first
/// audio track, if any.
///
/// # Errors
///
/// [`MediaError::Invalid`] when the bytes are not an MP4 with a video track, or a track's boxes
/// are cut short.
pub fn mp4_info(bytes: &[u8]) -> Result<Mp4Info, MediaError> {
    let trak = video_trak(bytes)?;
    let mdia = child(bytes, trak.payload, b"mdia")?;
    let duration_s = track_duration(bytes, &mdia)?;
    let stbl = descend(bytes, mdia.payload, &[b"minf", b"stbl"])?;
    let (frames, entry) = samples_and_entry(bytes, &stbl)?;
    // Visual sample entry: reserved (6), data_reference_index (2), pre_defined/reserved (16),
    // width (2), height (2).
    let width = u32::from(be_u16(bytes, entry.payload.start + 24)?);
    let height = u32::from(be_u16(bytes, entry.payload.start + 26)?);

    Ok(Mp4Info {
        duration_s,
        frames,
        width,
        height,
        codec: String::from_utf8_lossy(&entry.kind).into_owned(),
        audio: audio_info(bytes)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(mp4_info(b""), Err(MediaError::Invalid(_))));
        assert!(matches!(
            mp4_info(b"\0\0\0\x10ftypisom\0\0\0\0"),
            Err(MediaError::Invalid(_))
        ));
        assert!(matches!(mp4_info(b"\0\0\0\x40moov"), Err(MediaError::Invalid(_))));
    }
}
