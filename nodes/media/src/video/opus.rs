//! Opus audio for the MP4s, with `ropus`, a pure-Rust port of libopus (bit-exact against the C
//! reference): nothing to build but Rust, no system library.
//!
//! A track is 48 kHz mono PCM cut into 20 ms frames. The encoder's first [`PRE_SKIP`] output
//! samples are its lookahead, which a decoder drops (the MP4's `dOps` says so), so the PCM is
//! padded with silence at the end to cover them: decoded and trimmed, the track has exactly the
//! samples encoded, and its packets last at most one frame more.

use ropus::{Application, Bitrate, Channels, DecodeMode, Decoder, Encoder, Signal};

use crate::error::MediaError;

/// Opus's sample rate: every track is encoded and decoded at 48 kHz.
pub const OPUS_RATE: u32 = 48_000;

/// Samples per packet: 20 ms.
pub const FRAME_SAMPLES: usize = 960;

/// The encoder's lookahead, in samples, which decoders skip: the pre-skip `muxide` writes into
/// every `dOps` box (libopus's lookahead for its VoIP and audio modes at 48 kHz).
pub const PRE_SKIP: usize = 312;

/// The bit rate: transparent for mono speech.
pub const BITRATE: u32 = 64_000;

/// The most samples a packet decodes to (120 ms at 48 kHz).
const MAX_PACKET_SAMPLES: usize = 5_760;

/// An encoded mono track: packets of [`FRAME_SAMPLES`] each, the first [`PRE_SKIP`] samples of
/// which are the encoder's delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusTrack {
    /// The packets, in order.
    pub packets: Vec<Vec<u8>>,
    /// The samples encoded: what the decoded track holds after the pre-skip.
    pub samples: usize,
}

impl OpusTrack {
    /// How long the packets last, in seconds (the MP4 track's duration).
    pub fn packets_duration_s(&self) -> f64 {
        (self.packets.len() * FRAME_SAMPLES) as f64 / f64::from(OPUS_RATE)
    }
}

fn failed(what: &str) -> impl Fn(String) -> MediaError + '_ {
    move |e| MediaError::Failed(format!("Opus {what}: {e}"))
}

/// Encodes 48 kHz mono PCM (`[-1, 1]`) as Opus at [`BITRATE`], as a speech signal, in two
/// packets at least.
///
/// # Errors
///
/// [`MediaError::Failed`] when the encoder fails, or its lookahead is not the [`PRE_SKIP`] the
/// MP4 will declare.
pub fn encode_opus(pcm: &[f32]) -> Result<OpusTrack, MediaError> {
    let mut encoder = Encoder::builder(OPUS_RATE, Channels::Mono, Application::Audio)
        .bitrate(Bitrate::Bits(BITRATE))
        .signal(Signal::Voice)
        .build()
        .map_err(|e| failed("encoder")(e.to_string()))?;
    let lookahead = encoder.lookahead() as usize;
    if lookahead != PRE_SKIP {
        return Err(failed("encoder")(format!(
            "its lookahead is {lookahead} samples, not the {PRE_SKIP} an MP4 declares"
        )));
    }
    // Two packets at least: the MP4 muxer times the last packet by the gap before it.
    let frames = (pcm.len() + PRE_SKIP).div_ceil(FRAME_SAMPLES).max(2);
    let mut padded = Vec::with_capacity(frames * FRAME_SAMPLES);
    padded.extend_from_slice(pcm);
    padded.resize(frames * FRAME_SAMPLES, 0.0);
    let mut buffer = [0u8; 4_000];
    let packets = padded
        .chunks_exact(FRAME_SAMPLES)
        .map(|frame| {
            let n = encoder
                .encode_float(frame, &mut buffer)
                .map_err(|e| failed("encoding")(e.to_string()))?;
            Ok(buffer[..n].to_vec())
        })
        .collect::<Result<_, MediaError>>()?;
    Ok(OpusTrack {
        packets,
        samples: pcm.len(),
    })
}

/// Decodes mono Opus packets to 48 kHz PCM, drops the first `pre_skip` samples, and returns
/// `len` samples: cut, or padded with silence when the packets hold fewer.
///
/// # Errors
///
/// [`MediaError::Invalid`] when a packet does not decode.
pub fn decode_opus(packets: &[&[u8]], pre_skip: usize, len: usize) -> Result<Vec<f32>, MediaError> {
    let mut decoder = Decoder::new(OPUS_RATE, Channels::Mono).map_err(|e| failed("decoder")(e.to_string()))?;
    let mut pcm = Vec::with_capacity(pre_skip + len + FRAME_SAMPLES);
    let mut buffer = vec![0f32; MAX_PACKET_SAMPLES];
    for (index, packet) in packets.iter().enumerate() {
        let n = decoder
            .decode_float(packet, &mut buffer, DecodeMode::Normal)
            .map_err(|e| MediaError::Invalid(format!("Opus packet {index} does not decode: {e}")))?;
        pcm.extend_from_slice(&buffer[..n.min(buffer.len())]);
        if pcm.len() >= pre_skip + len {
            break;
        }
    }
    let mut out: Vec<f32> = pcm.into_iter().skip(pre_skip).take(len).collect();
    out.resize(len, 0.0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use super::*;

    fn speechlike(len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let t = i as f64 / f64::from(OPUS_RATE);
                let envelope = (PI * t * 3.0).sin().abs();
                ((2.0 * PI * 220.0 * t).sin() * 0.4 + (2.0 * PI * 660.0 * t).sin() * 0.2) as f32 * envelope as f32
            })
            .collect()
    }

    #[test]
    fn a_track_round_trips_in_sync_and_in_length() -> Result<(), MediaError> {
        let pcm = speechlike(OPUS_RATE as usize + 123);
        let track = encode_opus(&pcm)?;
        assert_eq!(track.samples, pcm.len());
        let covered = track.packets.len() * FRAME_SAMPLES;
        assert!(covered >= pcm.len() + PRE_SKIP && covered < pcm.len() + PRE_SKIP + FRAME_SAMPLES);
        let packets: Vec<&[u8]> = track.packets.iter().map(Vec::as_slice).collect();
        let back = decode_opus(&packets, PRE_SKIP, pcm.len())?;
        assert_eq!(back.len(), pcm.len());
        // Aligned (the pre-skip removes the delay): the error is small next to the signal.
        let error: f64 = pcm.iter().zip(&back).map(|(a, b)| f64::from(a - b).powi(2)).sum();
        let signal: f64 = pcm.iter().map(|a| f64::from(*a).powi(2)).sum();
        let snr = 10.0 * (signal / error).log10();
        assert!(snr > 15.0, "SNR {snr:.1} dB");
        Ok(())
    }

    #[test]
    fn silence_and_short_tracks_encode() -> Result<(), MediaError> {
        let empty = encode_opus(&[])?;
        assert_eq!(empty.packets.len(), 2);
        let packets: Vec<&[u8]> = empty.packets.iter().map(Vec::as_slice).collect();
        assert_eq!(decode_opus(&packets, PRE_SKIP, 10)?, vec![0.0; 10]);
        assert!((encode_opus(&[0.0; 2_000])?.packets_duration_s() - 0.06).abs() < 1e-9);
        Ok(())
    }
}
