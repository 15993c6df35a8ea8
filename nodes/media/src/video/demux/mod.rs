//! MP4 demuxing: the first video track's H.264 samples back to an Annex-B stream that
//! [`decode_stream`](super::decode_stream) can decode, and the first audio track's Opus packets
//! ([`mp4_opus`]).
//!
//! Reads `moov/trak/mdia/minf/stbl`: the `avc1`/`avc3` sample entry's `avcC` (SPS and PPS, and
//! the NAL length size), the sample sizes (`stsz`), the samples-per-chunk runs (`stsc`) and the
//! chunk offsets (`stco` or `co64`). Each sample's length-prefixed NAL units become
//! start-code-prefixed ones; the `avcC` parameter sets are put before the first sample and before
//! every IDR sample that does not carry its own, so each keyframe starts a decodable stream, as
//! the streams [`encode`](super::encode) writes do.
//!
//! Everything read from the file is bounds-checked against the box it lies in: a truncated or
//! malformed file gives [`MediaError::Invalid`] naming the box, never a panic.

use std::ops::Range;

use super::mp4_info::{BoxRef, child, children, descend, opus_pre_skip, trak_of, video_trak};
use crate::error::MediaError;

/// The start code put before every NAL unit.
const START_CODE: [u8; 4] = [0, 0, 0, 1];
/// NAL unit types (H.264 table 7-1) this module looks at.
const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_AUD: u8 = 9;

fn invalid(what: &str) -> MediaError {
    MediaError::Invalid(format!("not a usable MP4: {what}"))
}

/// Adds where an error from the shared box walker happened.
fn within(place: &'static str) -> impl Fn(MediaError) -> MediaError {
    move |error| match error {
        MediaError::Invalid(message) => MediaError::Invalid(format!("{message} ({place})")),
        other => other,
    }
}

/// A bounds-checked big-endian reader over one box's payload.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    name: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `range` of `data`, the payload of box `name`.
    fn new(data: &'a [u8], range: Range<usize>, name: &'static str) -> Result<Self, MediaError> {
        let bytes = data
            .get(range)
            .ok_or_else(|| invalid(&format!("`{name}` lies outside the file")))?;
        Ok(Self { bytes, at: 0, name })
    }

    fn cut_short(&self) -> MediaError {
        invalid(&format!("`{}` is cut short", self.name))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], MediaError> {
        let end = self.at.checked_add(n).ok_or_else(|| self.cut_short())?;
        let slice = self.bytes.get(self.at..end).ok_or_else(|| self.cut_short())?;
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MediaError> {
        let slice = self.take(N)?;
        slice.try_into().map_err(|_| self.cut_short())
    }

    fn u8(&mut self) -> Result<u8, MediaError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, MediaError> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, MediaError> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, MediaError> {
        self.array().map(u64::from_be_bytes)
    }

    /// Bytes left after the read position.
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.at)
    }

    /// Checks that `count` entries of `size` bytes each remain, before they are read (so a huge
    /// count in a small box is refused before anything is allocated for it).
    fn expect_entries(&self, count: u32, size: usize) -> Result<usize, MediaError> {
        let count = usize::try_from(count).map_err(|_| self.cut_short())?;
        match count.checked_mul(size) {
            Some(needed) if needed <= self.remaining() => Ok(count),
            _ => Err(invalid(&format!(
                "`{}` declares {count} entries but holds room for {}",
                self.name,
                self.remaining() / size
            ))),
        }
    }
}

/// The decoder configuration from an `avcC` box.
struct AvcConfig {
    /// Bytes in each NAL unit's length prefix (1, 2 or 4).
    length_size: usize,
    /// The parameter sets (SPS then PPS) as one Annex-B run, start codes included.
    parameter_sets: Vec<u8>,
    /// Whether the `avcC` holds at least one SPS.
    has_sps: bool,
}

/// Parses an `avcC` (AVCDecoderConfigurationRecord, ISO/IEC 14496-15 §5.3.3.1).
fn parse_avcc(data: &[u8], avcc: &BoxRef) -> Result<AvcConfig, MediaError> {
    let mut r = Reader::new(data, avcc.payload.clone(), "avcC")?;
    let version = r.u8()?;
    if version != 1 {
        return Err(invalid(&format!("`avcC` has configuration version {version}, not 1")));
    }
    // AVCProfileIndication, profile_compatibility, AVCLevelIndication.
    r.take(3)?;
    let length_size = usize::from(r.u8()? & 0b11) + 1;
    if length_size == 3 {
        return Err(invalid("`avcC` declares 3-byte NAL lengths"));
    }
    let mut parameter_sets = Vec::new();
    let sps_count = r.u8()? & 0b1_1111;
    for _ in 0..sps_count {
        let len = usize::from(r.u16()?);
        push_nal(&mut parameter_sets, r.take(len)?);
    }
    let pps_count = r.u8()?;
    for _ in 0..pps_count {
        let len = usize::from(r.u16()?);
        push_nal(&mut parameter_sets, r.take(len)?);
    }
    Ok(AvcConfig {
        length_size,
        parameter_sets,
        has_sps: sps_count > 0,
    })
}

/// Appends a NAL unit with its start code (empty units are dropped).
fn push_nal(out: &mut Vec<u8>, nal: &[u8]) {
    if !nal.is_empty() {
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(nal);
    }
}

/// The `nal_unit_type` of a NAL unit (its first byte's low five bits).
fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|header| header & 0b1_1111)
}

/// Every sample's size, from `stsz`: one size for all, or one entry each.
enum SampleSizes<'a> {
    Fixed { size: u32, count: u32 },
    Each(Reader<'a>, u32),
}

impl SampleSizes<'_> {
    fn count(&self) -> u32 {
        match self {
            Self::Fixed { count, .. } | Self::Each(_, count) => *count,
        }
    }
}

fn parse_stsz<'a>(data: &'a [u8], stsz: &BoxRef) -> Result<SampleSizes<'a>, MediaError> {
    let mut r = Reader::new(data, stsz.payload.clone(), "stsz")?;
    // version/flags, sample_size, sample_count, then sample_count sizes when sample_size is 0.
    r.take(4)?;
    let size = r.u32()?;
    let count = r.u32()?;
    if size != 0 {
        return Ok(SampleSizes::Fixed { size, count });
    }
    r.expect_entries(count, 4)?;
    Ok(SampleSizes::Each(r, count))
}

/// `stsc` runs: from chunk `first_chunk` (1-based) on, each chunk holds `samples_per_chunk`.
fn parse_stsc(data: &[u8], stsc: &BoxRef) -> Result<Vec<(u32, u32)>, MediaError> {
    let mut r = Reader::new(data, stsc.payload.clone(), "stsc")?;
    // version/flags, entry_count, then (first_chunk, samples_per_chunk, sample_description_index).
    r.take(4)?;
    let entry_count = r.u32()?;
    let count = r.expect_entries(entry_count, 12)?;
    let mut runs = Vec::with_capacity(count);
    for _ in 0..count {
        let first_chunk = r.u32()?;
        let samples_per_chunk = r.u32()?;
        r.u32()?;
        let expected_after = runs.last().map_or(0, |&(previous, _)| previous);
        if first_chunk <= expected_after || (runs.is_empty() && first_chunk != 1) {
            return Err(invalid(&format!(
                "`stsc` run starting at chunk {first_chunk} is out of order"
            )));
        }
        runs.push((first_chunk, samples_per_chunk));
    }
    Ok(runs)
}

/// Chunk offsets from `stco` (32-bit) or `co64` (64-bit).
fn parse_chunk_offsets(data: &[u8], stbl: &BoxRef) -> Result<(Vec<u64>, &'static str), MediaError> {
    let boxes = children(data, stbl.payload.clone()).map_err(within("in `stbl`"))?;
    let (table, name, wide) = if let Some(b) = boxes.iter().find(|b| &b.kind == b"stco") {
        (b, "stco", false)
    } else if let Some(b) = boxes.iter().find(|b| &b.kind == b"co64") {
        (b, "co64", true)
    } else {
        return Err(invalid("no `stco` or `co64` box"));
    };
    let mut r = Reader::new(data, table.payload.clone(), name)?;
    r.take(4)?;
    let count = r.u32()?;
    let count = r.expect_entries(count, if wide { 8 } else { 4 })?;
    let mut offsets = Vec::with_capacity(count);
    for _ in 0..count {
        offsets.push(if wide { r.u64()? } else { u64::from(r.u32()?) });
    }
    Ok((offsets, name))
}

/// Extracts the first video track's H.264 samples from an MP4 as an Annex-B byte stream that
/// [`decode_stream`](super::decode_stream) decodes.
///
/// The track's sample entry must be `avc1` or `avc3` with an `avcC` box. Each sample's
/// length-prefixed NAL units are written with 4-byte start codes, in sample (decode) order; the
/// `avcC`'s SPS and PPS come before the first sample and before every IDR sample that carries no
/// SPS and PPS of its own (after an access unit delimiter, if the sample starts with one). Only
/// the first sample description is used; fragmented MP4s (samples in `moof` boxes) are not read.
///
/// # Errors
///
/// [`MediaError::Invalid`], naming the box at fault, when the bytes are not an MP4, have no
/// video track, the track is not H.264, has no samples, or any box or sample is cut short or
/// points outside the file.
pub fn mp4_annex_b(mp4: &[u8]) -> Result<Vec<u8>, MediaError> {
    let trak = video_trak(mp4).map_err(within("looking for `moov` and its video `trak`"))?;
    let stbl = descend(mp4, trak.payload, &[b"mdia", b"minf", b"stbl"]).map_err(within("in the video `trak`"))?;

    let entry = first_sample_entry(mp4, &stbl)?;
    if &entry.kind != b"avc1" && &entry.kind != b"avc3" {
        return Err(invalid(&format!(
            "the video track's codec is `{}`, not H.264 (`avc1`)",
            String::from_utf8_lossy(&entry.kind).escape_debug()
        )));
    }
    // Visual sample entry: 78 bytes of fields, then child boxes (`avcC`, `pasp`, `btrt`, ...).
    let boxes_start = entry.payload.start + 78;
    if boxes_start > entry.payload.end {
        return Err(invalid(&format!(
            "`{}` is cut short",
            String::from_utf8_lossy(&entry.kind)
        )));
    }
    let avcc = child(mp4, boxes_start..entry.payload.end, b"avcC").map_err(within("in `avc1`"))?;
    let config = parse_avcc(mp4, &avcc)?;

    let samples = track_samples(mp4, &stbl, "video")?;
    if !config.has_sps && &entry.kind == b"avc1" {
        return Err(invalid("`avcC` holds no SPS"));
    }

    let mut out = Vec::new();
    let mut nals: Vec<&[u8]> = Vec::new();
    for (sample, bytes) in samples.into_iter().enumerate() {
        nals.clear();
        split_sample(bytes, config.length_size, sample, &mut nals)?;
        write_sample(&mut out, &nals, sample == 0, &config.parameter_sets);
    }
    Ok(out)
}

/// The first audio track's Opus packets and pre-skip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusPackets<'a> {
    /// The packets, in order.
    pub packets: Vec<&'a [u8]>,
    /// The samples (at 48 kHz) a decoder drops at the start, from `dOps`.
    pub pre_skip: u16,
}

/// Extracts the first audio track's Opus packets from an MP4: `None` when the file has no audio
/// track.
///
/// # Errors
///
/// [`MediaError::Invalid`], naming the box at fault, when the bytes are not an MP4, the audio
/// track is not Opus (`Opus` sample entry with a `dOps` box) or has no samples, or any box or
/// sample is cut short or points outside the file.
pub fn mp4_opus(mp4: &[u8]) -> Result<Option<OpusPackets<'_>>, MediaError> {
    let Some(trak) = trak_of(mp4, b"soun").map_err(within("looking for `moov` and its audio `trak`"))? else {
        return Ok(None);
    };
    let stbl = descend(mp4, trak.payload, &[b"mdia", b"minf", b"stbl"]).map_err(within("in the audio `trak`"))?;
    let entry = first_sample_entry(mp4, &stbl)?;
    if &entry.kind != b"Opus" {
        return Err(invalid(&format!(
            "the audio track's codec is `{}`, not Opus",
            String::from_utf8_lossy(&entry.kind).escape_debug()
        )));
    }
    let pre_skip = opus_pre_skip(mp4, &entry).map_err(within("in `Opus`"))?;
    let packets = track_samples(mp4, &stbl, "audio")?;
    Ok(Some(OpusPackets { packets, pre_skip }))
}

/// The first sample entry of a track's `stsd`.
fn first_sample_entry(mp4: &[u8], stbl: &BoxRef) -> Result<BoxRef, MediaError> {
    // stsd: version/flags (4), entry_count (4), then sample entries (boxes).
    let stsd = child(mp4, stbl.payload.clone(), b"stsd").map_err(within("in `stbl`"))?;
    let entries_start = stsd.payload.start + 8;
    if entries_start > stsd.payload.end {
        return Err(invalid("`stsd` is cut short"));
    }
    children(mp4, entries_start..stsd.payload.end)
        .map_err(within("in `stsd`"))?
        .into_iter()
        .next()
        .ok_or_else(|| invalid("`stsd` has no sample entry"))
}

/// Every sample of the track whose sample table is `stbl`, in order, from its sizes (`stsz`),
/// its samples-per-chunk runs (`stsc`) and its chunk offsets (`stco` or `co64`); `track` names
/// it in errors.
fn track_samples<'a>(mp4: &'a [u8], stbl: &BoxRef, track: &str) -> Result<Vec<&'a [u8]>, MediaError> {
    let mut sizes = parse_stsz(
        mp4,
        &child(mp4, stbl.payload.clone(), b"stsz").map_err(within("in `stbl`"))?,
    )?;
    let runs = parse_stsc(
        mp4,
        &child(mp4, stbl.payload.clone(), b"stsc").map_err(within("in `stbl`"))?,
    )?;
    let (chunk_offsets, offsets_box) = parse_chunk_offsets(mp4, stbl)?;

    let sample_count = sizes.count();
    if sample_count == 0 {
        return Err(invalid(&format!("the {track} track has no samples (`stsz` is empty)")));
    }
    let mut samples = Vec::new();
    let mut total: u64 = 0;
    let mut sample: u32 = 0;
    let mut run = 0;
    'chunks: for (chunk_index, &chunk_offset) in chunk_offsets.iter().enumerate() {
        let chunk_number = u32::try_from(chunk_index + 1).map_err(|_| invalid("too many chunks"))?;
        while runs.get(run + 1).is_some_and(|&(first, _)| first <= chunk_number) {
            run += 1;
        }
        let per_chunk = runs.get(run).map_or(0, |&(_, n)| n);
        let mut offset = chunk_offset;
        for _ in 0..per_chunk {
            if sample == sample_count {
                break 'chunks;
            }
            let size = match &mut sizes {
                SampleSizes::Fixed { size, .. } => *size,
                SampleSizes::Each(reader, _) => reader.u32()?,
            };
            total += u64::from(size);
            if total > mp4.len() as u64 {
                return Err(invalid(&format!(
                    "`stsz` sample sizes add up to more than the file holds (at sample {sample})"
                )));
            }
            let bytes = offset
                .checked_add(u64::from(size))
                .and_then(|end| usize::try_from(offset).ok().zip(usize::try_from(end).ok()))
                .and_then(|(start, end)| mp4.get(start..end))
                .ok_or_else(|| {
                    invalid(&format!(
                        "sample {sample} ({size} bytes at offset {offset}, from `{offsets_box}` and `stsz`) \
                         lies outside the file"
                    ))
                })?;
            samples.push(bytes);
            offset += u64::from(size);
            sample += 1;
        }
    }
    if sample < sample_count {
        return Err(invalid(&format!(
            "`stsc` and `{offsets_box}` place {sample} of the {sample_count} samples in `stsz`"
        )));
    }
    Ok(samples)
}

/// Splits one sample into its NAL units (each prefixed by a `length_size`-byte length).
fn split_sample<'a>(
    mut bytes: &'a [u8],
    length_size: usize,
    sample: usize,
    nals: &mut Vec<&'a [u8]>,
) -> Result<(), MediaError> {
    while !bytes.is_empty() {
        let cut = || invalid(&format!("a NAL unit in sample {sample} is cut short (`mdat`)"));
        let (prefix, rest) = bytes.split_at_checked(length_size).ok_or_else(cut)?;
        let len = prefix.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let (nal, rest) = rest.split_at_checked(len).ok_or_else(cut)?;
        if !nal.is_empty() {
            nals.push(nal);
        }
        bytes = rest;
    }
    Ok(())
}

/// Writes one sample's NAL units, with the `avcC` parameter sets before them when the sample is
/// the first or an IDR picture and does not carry both its own SPS and PPS.
fn write_sample(out: &mut Vec<u8>, nals: &[&[u8]], first: bool, parameter_sets: &[u8]) {
    let has = |kind: u8| nals.iter().any(|nal| nal_type(nal) == Some(kind));
    let needs_sets = (first || has(NAL_IDR)) && !(has(NAL_SPS) && has(NAL_PPS));
    let mut rest = nals;
    if needs_sets {
        if let Some((aud, after)) = nals.split_first().filter(|(aud, _)| nal_type(aud) == Some(NAL_AUD)) {
            push_nal(out, aud);
            rest = after;
        }
        out.extend_from_slice(parameter_sets);
    }
    for nal in rest {
        push_nal(out, nal);
    }
}

#[cfg(test)]
mod tests;
