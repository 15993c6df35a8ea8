//! A small ISO-BMFF box walker: what an MP4's first video track holds (duration, frames, size,
//! codec), read from `moov/trak/{tkhd, mdia/{mdhd, hdlr, minf/stbl/{stsd, stsz}}}`.

use std::ops::Range;

use crate::backend::BackendError;

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
}

/// A box: its type and where its payload (the bytes after its header) lies.
#[derive(Debug, Clone)]
pub(crate) struct BoxRef {
    pub(crate) kind: [u8; 4],
    pub(crate) payload: Range<usize>,
}

fn invalid(what: &str) -> BackendError {
    BackendError::Invalid(format!("not a usable MP4: {what}"))
}

fn be_u16(data: &[u8], at: usize) -> Result<u16, BackendError> {
    data.get(at..at + 2)
        .and_then(|b| b.try_into().ok())
        .map(u16::from_be_bytes)
        .ok_or_else(|| invalid("a box is cut short"))
}

pub(crate) fn be_u32(data: &[u8], at: usize) -> Result<u32, BackendError> {
    data.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| invalid("a box is cut short"))
}

pub(crate) fn be_u64(data: &[u8], at: usize) -> Result<u64, BackendError> {
    data.get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| invalid("a box is cut short"))
}

/// The boxes directly inside `range` of `data`.
pub(crate) fn children(data: &[u8], range: Range<usize>) -> Result<Vec<BoxRef>, BackendError> {
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
pub(crate) fn child(data: &[u8], range: Range<usize>, kind: &[u8; 4]) -> Result<BoxRef, BackendError> {
    children(data, range)?
        .into_iter()
        .find(|b| &b.kind == kind)
        .ok_or_else(|| invalid(&format!("no `{}` box", String::from_utf8_lossy(kind))))
}

/// The box at `path` below `range` (first match at each level).
pub(crate) fn descend(data: &[u8], range: Range<usize>, path: &[&[u8; 4]]) -> Result<BoxRef, BackendError> {
    let mut current = BoxRef {
        kind: *b"root",
        payload: range,
    };
    for kind in path {
        current = child(data, current.payload.clone(), kind)?;
    }
    Ok(current)
}

/// The `trak` box of the first video track (`hdlr` type `vide`).
pub(crate) fn video_trak(data: &[u8]) -> Result<BoxRef, BackendError> {
    let moov = child(data, 0..data.len(), b"moov")?;
    for trak in children(data, moov.payload)?.into_iter().filter(|b| &b.kind == b"trak") {
        let hdlr = descend(data, trak.payload.clone(), &[b"mdia", b"hdlr"])?;
        // version/flags (4), pre_defined (4), handler_type (4).
        if data.get(hdlr.payload.start + 8..hdlr.payload.start + 12) == Some(b"vide".as_slice()) {
            return Ok(trak);
        }
    }
    Err(invalid("no video track"))
}

/// Reads an MP4 file's first video track: duration, frame count, size and codec.
///
/// # Errors
///
/// [`BackendError::Invalid`] when the bytes are not an MP4 with a video track.
pub fn mp4_info(bytes: &[u8]) -> Result<Mp4Info, BackendError> {
    let trak = video_trak(bytes)?;
    let mdia = child(bytes, trak.payload, b"mdia")?;

    let mdhd = child(bytes, mdia.payload.clone(), b"mdhd")?.payload.start;
    let (timescale, duration) = match bytes.get(mdhd) {
        Some(1) => (be_u32(bytes, mdhd + 20)?, be_u64(bytes, mdhd + 24)?),
        Some(0) => (be_u32(bytes, mdhd + 12)?, u64::from(be_u32(bytes, mdhd + 16)?)),
        _ => return Err(invalid("unknown `mdhd` version")),
    };
    if timescale == 0 {
        return Err(invalid("`mdhd` timescale is 0"));
    }

    let stbl = descend(bytes, mdia.payload, &[b"minf", b"stbl"])?;
    // stsz: version/flags (4), sample_size (4), sample_count (4).
    let stsz = child(bytes, stbl.payload.clone(), b"stsz")?.payload.start;
    let frames = be_u32(bytes, stsz + 8)?;

    // stsd: version/flags (4), entry_count (4), then sample entries (boxes).
    let stsd = child(bytes, stbl.payload, b"stsd")?;
    let entry = children(bytes, stsd.payload.start + 8..stsd.payload.end)?
        .into_iter()
        .next()
        .ok_or_else(|| invalid("`stsd` has no sample entry"))?;
    // Visual sample entry: reserved (6), data_reference_index (2), pre_defined/reserved (16),
    // width (2), height (2).
    let width = u32::from(be_u16(bytes, entry.payload.start + 24)?);
    let height = u32::from(be_u16(bytes, entry.payload.start + 26)?);

    Ok(Mp4Info {
        duration_s: duration as f64 / f64::from(timescale),
        frames,
        width,
        height,
        codec: String::from_utf8_lossy(&entry.kind).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(mp4_info(b""), Err(BackendError::Invalid(_))));
        assert!(matches!(
            mp4_info(b"\0\0\0\x10ftypisom\0\0\0\0"),
            Err(BackendError::Invalid(_))
        ));
        assert!(matches!(mp4_info(b"\0\0\0\x40moov"), Err(BackendError::Invalid(_))));
    }
}
