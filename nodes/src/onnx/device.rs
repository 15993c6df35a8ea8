//! Where a session runs: `auto | cpu | cuda[:N]`.
//!
//! CUDA needs ONNX Runtime built with its CUDA execution provider (the `onnxruntime-gpu`
//! package); the CPU build the registry installs has none. `cuda` insists (an error when the
//! provider is absent or fails); `auto` tries it when the runtime has it and otherwise runs on
//! the CPU, saying so once per process: a warning when CUDA was there and failed, an info line
//! when the runtime is a CPU build (the normal case on a machine without a GPU).

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Once;

use ort::ep::{self, ExecutionProvider};
use ort::session::Session;

use super::OnnxError;
use super::runtime::Runtime;

/// The device asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// CUDA when the runtime can, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// The CUDA device with this ordinal.
    Cuda(u32),
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Auto => f.write_str("auto"),
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl FromStr for Device {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Device::Auto),
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Device::Cuda)
                .ok_or_else(|| format!("`{s}` is not a device: use auto, cpu, cuda or cuda:N")),
        }
    }
}

impl serde::Serialize for Device {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Device {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Where a session actually runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The CPU execution provider.
    Cpu,
    /// The CUDA execution provider on this device.
    Cuda(u32),
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Placement::Cpu => f.write_str("cpu"),
            Placement::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

static CPU_FALLBACK: Once = Once::new();

/// A session for the graph in `model` on `device`.
pub fn session(runtime: &Runtime, model: &Path, device: Device) -> Result<(Session, Placement), OnnxError> {
    let failed = |message: String| OnnxError::Session {
        model: model.to_owned(),
        message,
    };
    let mut builder = Session::builder(runtime.environment()).map_err(|e| failed(e.to_string()))?;
    let mut placement = Placement::Cpu;
    let cuda = match device {
        Device::Cpu => None,
        Device::Cuda(n) => Some(n),
        Device::Auto => Some(0),
    };
    if let Some(n) = cuda {
        let available = ep::CUDA::is_available().unwrap_or(false);
        let attempt = if available {
            let provider = ep::CUDA::default().with_device_id(n as i32).build().error_on_failure();
            builder
                .with_execution_providers([provider])
                .map_err(|e| (e.to_string(), e.recover()))
        } else {
            Err((
                format!(
                    "ONNX Runtime at {} has no CUDA execution provider (it comes with the onnxruntime-gpu package)",
                    runtime.library().display()
                ),
                builder,
            ))
        };
        match attempt {
            Ok(with_cuda) => {
                builder = with_cuda;
                placement = Placement::Cuda(n);
            }
            Err((reason, recovered)) if device == Device::Auto => {
                // One line per process: every session would say the same.
                CPU_FALLBACK.call_once(|| {
                    if available {
                        tracing::warn!("device auto: CUDA failed ({reason}); running ONNX models on the CPU");
                    } else {
                        tracing::info!("device auto: {reason}; running ONNX models on the CPU");
                    }
                });
                builder = recovered;
            }
            Err((reason, _)) => return Err(OnnxError::Device { device, reason }),
        }
    }
    let session = builder.commit_from_file(model).map_err(|e| failed(e.to_string()))?;
    Ok((session, placement))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse() {
        assert_eq!("auto".parse(), Ok(Device::Auto));
        assert_eq!("cpu".parse(), Ok(Device::Cpu));
        assert_eq!("cuda".parse(), Ok(Device::Cuda(0)));
        assert_eq!("cuda:1".parse(), Ok(Device::Cuda(1)));
        assert!("gpu".parse::<Device>().is_err());
        assert!("cuda:x".parse::<Device>().is_err());
        assert_eq!(Device::Cuda(2).to_string(), "cuda:2");
    }
}
