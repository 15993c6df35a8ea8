use super::super::test_frames::{animation, psnr};
use super::super::{decode_stream, encode_clip, encode_frames};
use super::*;

/// The NAL units of an Annex-B stream, without start codes.
fn annex_b_nals(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 2 < data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &start)| {
            let mut end = starts.get(k + 1).map_or(data.len(), |&next| next - 3);
            while end > start && data[end - 1] == 0 {
                end -= 1;
            }
            &data[start..end]
        })
        .collect()
}

/// A box: size, type, payload.
fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

/// The payload range of box `kind` in the video track's sample table.
fn stbl_box(mp4: &[u8], kind: &[u8; 4]) -> Result<Range<usize>, MediaError> {
    let trak = video_trak(mp4)?;
    Ok(descend(mp4, trak.payload, &[b"mdia", b"minf", b"stbl", kind])?.payload)
}

fn message(result: Result<Vec<u8>, MediaError>) -> String {
    match result {
        Err(MediaError::Invalid(message)) => message,
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn a_muxed_clip_demuxes_to_its_frames() -> Result<(), MediaError> {
    let frames = animation(30, 160, 96);
    let (mp4, annex_b) = encode_clip(&frames, 24)?;
    let demuxed = mp4_annex_b(&mp4)?;
    // muxide keeps each keyframe's SPS and PPS in the sample, so nothing is added: the
    // demuxed stream is the encoder's, byte for byte.
    assert_eq!(demuxed, annex_b);
    let decoded = decode_stream(&demuxed)?;
    assert_eq!(decoded.len(), 30);
    let direct = decode_stream(&annex_b)?;
    for (i, (original, back)) in frames.iter().zip(&decoded).enumerate() {
        assert_eq!(back.dimensions(), (160, 96), "frame {i}");
        let db = psnr(original, back);
        assert!(db > 30.0, "frame {i}: PSNR {db:.1} dB");
        assert_eq!(back, &direct[i], "frame {i} differs from decoding the encoder's stream");
    }
    Ok(())
}

#[test]
fn co64_chunk_runs_and_two_byte_lengths_are_read() -> Result<(), MediaError> {
    // A hand-built MP4: `mdat` first, samples stored without SPS/PPS (those only in `avcC`),
    // 2-byte NAL lengths, chunks of 4, 4, then 3 samples, 64-bit chunk offsets.
    let frames = animation(12, 64, 48);
    let stream = encode_frames(&frames, 24)?;
    let mut sps = Vec::new();
    let mut pps = Vec::new();
    let mut samples = Vec::new();
    for index in 0..stream.frame_count() {
        let mut sample = Vec::new();
        for nal in annex_b_nals(stream.frame_bytes(index).unwrap_or_default()) {
            match nal_type(nal) {
                Some(NAL_SPS) => sps = nal.to_vec(),
                Some(NAL_PPS) => pps = nal.to_vec(),
                _ => {
                    sample.extend_from_slice(&(nal.len() as u16).to_be_bytes());
                    sample.extend_from_slice(nal);
                }
            }
        }
        samples.push(sample);
    }
    assert!(!sps.is_empty() && !pps.is_empty());

    let ftyp = bx(b"ftyp", b"isom\0\0\0\0isomavc1");
    let mut mdat_payload = Vec::new();
    let mut sample_offsets = Vec::new();
    let base = (ftyp.len() + 8) as u64;
    for sample in &samples {
        sample_offsets.push(base + mdat_payload.len() as u64);
        mdat_payload.extend_from_slice(sample);
    }
    let mdat = bx(b"mdat", &mdat_payload);
    let chunk_sizes = [4usize, 4, 3, 1];
    let mut chunk_offsets = Vec::new();
    let mut first = 0;
    for n in chunk_sizes {
        chunk_offsets.push(sample_offsets[first]);
        first += n;
    }

    let mut avcc = vec![1, 66, 0xC0, 30, 0xFD, 0xE1];
    avcc.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    avcc.extend_from_slice(&sps);
    avcc.push(1);
    avcc.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    avcc.extend_from_slice(&pps);
    let mut avc1 = vec![0; 78];
    avc1[7] = 1;
    avc1[24..26].copy_from_slice(&64u16.to_be_bytes());
    avc1[26..28].copy_from_slice(&48u16.to_be_bytes());
    avc1.extend(bx(b"avcC", &avcc));
    let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
    stsd.extend(bx(b"avc1", &avc1));
    let mut stsz = vec![0; 8];
    stsz.extend_from_slice(&(samples.len() as u32).to_be_bytes());
    for sample in &samples {
        stsz.extend_from_slice(&(sample.len() as u32).to_be_bytes());
    }
    let mut stsc = vec![0, 0, 0, 0, 0, 0, 0, 3];
    for (first_chunk, per_chunk) in [(1u32, 4u32), (3, 3), (4, 1)] {
        for v in [first_chunk, per_chunk, 1] {
            stsc.extend_from_slice(&v.to_be_bytes());
        }
    }
    let mut co64 = vec![0; 4];
    co64.extend_from_slice(&(chunk_offsets.len() as u32).to_be_bytes());
    for offset in &chunk_offsets {
        co64.extend_from_slice(&offset.to_be_bytes());
    }
    let stbl = [
        bx(b"stsd", &stsd),
        bx(b"stts", &[0; 8]),
        bx(b"stsz", &stsz),
        bx(b"stsc", &stsc),
        bx(b"co64", &co64),
    ]
    .concat();
    let hdlr = [&[0u8; 8][..], b"vide", &[0; 13]].concat();
    let mdia = [bx(b"hdlr", &hdlr), bx(b"minf", &bx(b"stbl", &stbl))].concat();
    let moov = bx(b"moov", &bx(b"trak", &bx(b"mdia", &mdia)));
    let mp4 = [ftyp, mdat, moov].concat();

    let demuxed = mp4_annex_b(&mp4)?;
    let decoded = decode_stream(&demuxed)?;
    assert_eq!(decoded, decode_stream(&stream.annex_b)?);
    assert_eq!(decoded.len(), 12);
    // SPS and PPS from `avcC` before each of the samples' IDR pictures (frame 0 only here).
    let types: Vec<_> = annex_b_nals(&demuxed).iter().filter_map(|nal| nal_type(nal)).collect();
    assert_eq!(&types[..3], &[NAL_SPS, NAL_PPS, NAL_IDR]);
    assert_eq!(types.iter().filter(|&&t| t == NAL_SPS).count(), 1);

    // One sample fewer in the chunks than `stsz` lists: an error naming the tables.
    let mut short = mp4.clone();
    let last_run = stbl_box(&short, b"stsc")?.start + 8 + 2 * 12 + 4;
    short[last_run..last_run + 4].copy_from_slice(&0u32.to_be_bytes());
    let error = message(mp4_annex_b(&short));
    assert!(error.contains("`stsc`") && error.contains("`co64`"), "{error}");
    Ok(())
}

#[test]
fn a_truncated_mp4_is_refused_at_every_cut() -> Result<(), MediaError> {
    let (mp4, _) = encode_clip(&animation(30, 160, 96), 24)?;
    for cut in 0..mp4.len() {
        let error = message(mp4_annex_b(&mp4[..cut]));
        assert!(error.contains('`'), "cut at {cut}: the message names no box: {error}");
    }
    Ok(())
}

#[test]
fn corrupt_bytes_in_moov_never_panic() -> Result<(), MediaError> {
    let (mp4, _) = encode_clip(&animation(4, 32, 32), 24)?;
    let moov = child(&mp4, 0..mp4.len(), b"moov")?.payload;
    for at in moov.start - 8..moov.end {
        for value in [0x00, 0x01, 0x7F, 0xFF] {
            let mut bad = mp4.clone();
            bad[at] = value;
            let _ = mp4_annex_b(&bad);
        }
    }
    Ok(())
}

#[test]
fn chunk_offsets_past_the_end_are_refused() -> Result<(), MediaError> {
    let (mut mp4, _) = encode_clip(&animation(3, 32, 32), 24)?;
    let stco = stbl_box(&mp4, b"stco")?.start;
    mp4[stco + 8..stco + 12].copy_from_slice(&u32::MAX.to_be_bytes());
    let error = message(mp4_annex_b(&mp4));
    assert!(error.contains("`stco`"), "{error}");
    Ok(())
}

#[test]
fn a_file_without_a_video_track_is_refused() -> Result<(), MediaError> {
    // The clip's only track relabelled as audio.
    let (mut mp4, _) = encode_clip(&animation(3, 32, 32), 24)?;
    let hdlr = descend(&mp4, video_trak(&mp4)?.payload, &[b"mdia", b"hdlr"])?
        .payload
        .start;
    mp4[hdlr + 8..hdlr + 12].copy_from_slice(b"soun");
    assert!(message(mp4_annex_b(&mp4)).contains("no video track"));

    // A movie with no tracks at all, and bytes that are no MP4.
    let empty = [bx(b"ftyp", b"isom\0\0\0\0isom"), bx(b"moov", &bx(b"mvhd", &[0; 100]))].concat();
    assert!(message(mp4_annex_b(&empty)).contains("no video track"));
    assert!(message(mp4_annex_b(b"")).contains("`moov`"));
    assert!(message(mp4_annex_b(b"not an mp4 at all")).contains('`'));
    Ok(())
}

#[test]
fn a_video_track_that_is_not_h264_is_refused() -> Result<(), MediaError> {
    let (mut mp4, _) = encode_clip(&animation(3, 32, 32), 24)?;
    // The first sample entry's type: after `stsd`'s version/flags, entry count and its size.
    let entry_type = stbl_box(&mp4, b"stsd")?.start + 12;
    assert_eq!(&mp4[entry_type..entry_type + 4], b"avc1");
    mp4[entry_type..entry_type + 4].copy_from_slice(b"hvc1");
    let error = message(mp4_annex_b(&mp4));
    assert!(error.contains("`hvc1`"), "{error}");
    Ok(())
}
