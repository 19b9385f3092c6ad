//! `x86lab bench`: how many guest instructions per second each backend runs on the four
//! workloads of firmware/workloads/ (alu, mem, call, string).
//!
//! Both backends run the same program from the same state: 64-bit user mode (CPL 3, IOPL 3),
//! where KVM runs guest code on the processor on every host, including hosts without
//! VT-x/AMD-V. Instructions are counted as the software CPU retires them, each REP
//! iteration one. KVM does not count what a guest runs, so its count comes from the
//! workload's shape: a workload's instruction count is `fixed + per_iteration * n` for its
//! `ITERATIONS = n`, and two short runs on the software CPU give both numbers exactly (every
//! timed run on the software CPU checks them again). Only `run` is timed: assembling, creating the machine and loading
//! are not. Each measurement is the best of `repeats` runs, since on a shared machine the
//! noise only ever slows a run down.

pub mod native;

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use x86lab_emulator::{Cpu, Event, Machine, MemoryLayout, RunLimits};
use x86lab_firmware::load::{self, LoadOptions, Mode};

/// A backend to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Emulator,
    Kvm,
    /// The same machine code as a Linux process on this CPU ([`native`]).
    Native,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Emulator => "emulator",
            Backend::Kvm => "kvm",
            Backend::Native => "native",
        }
    }
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct Options {
    pub backends: Vec<Backend>,
    /// Names from [`x86lab_firmware::WORKLOADS`]; empty means all.
    pub workloads: Vec<String>,
    /// How long one timed run should take, roughly.
    pub target: Duration,
    /// Timed runs per measurement; the fastest counts.
    pub repeats: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            backends: vec![Backend::Emulator, Backend::Kvm],
            workloads: Vec::new(),
            target: Duration::from_millis(1500),
            repeats: 3,
        }
    }
}

/// One workload on one backend.
#[derive(Clone, Debug)]
pub struct Measurement {
    pub workload: String,
    pub backend: Backend,
    /// The workload's `ITERATIONS`.
    pub iterations: u64,
    /// Guest instructions in one run.
    pub instructions: u64,
    /// The fastest run.
    pub seconds: f64,
}

impl Measurement {
    /// Millions of guest instructions per second.
    pub fn mips(&self) -> f64 {
        self.instructions as f64 / self.seconds / 1e6
    }
}

/// A workload's defines: `ITERATIONS`; its sizes (`SIZE`, `N`) keep the source's defaults.
fn defines(iterations: u64) -> Vec<(String, String)> {
    vec![("ITERATIONS".into(), iterations.to_string())]
}

/// A workload assembled for `iterations`, loaded into a new machine of `backend`, ready to
/// run at CPL 3.
pub fn prepared(name: &str, iterations: u64, backend: Backend) -> Result<Box<dyn Machine>> {
    let a = x86lab_firmware::assemble_workload(name, &defines(iterations))
        .map_err(anyhow::Error::msg)?;
    let mut m: Box<dyn Machine> = match backend {
        Backend::Emulator => Box::new(Cpu::new(MemoryLayout::default())?),
        Backend::Kvm => Box::new(
            x86lab_kvm::KvmMachine::new(MemoryLayout::default())
                .context("KVM is not available; measure with --backend emulator")?,
        ),
        Backend::Native => bail!("a native run is not a machine: use `timed`"),
    };
    let opts = LoadOptions {
        mode: Some(Mode::Long),
        load: Some(a.origin),
        user: true,
    };
    load::load(m.as_mut(), &a.bytes, &opts)?;
    Ok(m)
}

/// Runs a prepared workload to its end; the time `run` took, and the instructions the
/// machine counted (the software CPU only).
pub fn timed_run(m: &mut dyn Machine, name: &str) -> Result<(Duration, Option<u64>)> {
    let limits = RunLimits {
        max_time: Some(Duration::from_secs(120)),
        ..RunLimits::default()
    };
    let start = Instant::now();
    let event = m.run(&limits)?;
    let took = start.elapsed();
    match event {
        Event::ExitRequested { status: 0 } => Ok((took, m.instructions_retired())),
        other => bail!(
            "the workload `{name}` did not end through the exit port on {}: {other:?}",
            m.backend()
        ),
    }
}

/// One timed run of a workload with `iterations` on `backend`; on the software CPU, also
/// checks the instructions it retired against the workload's shape.
pub fn timed(name: &str, iterations: u64, backend: Backend, s: Shape) -> Result<Duration> {
    if backend == Backend::Native {
        let a = x86lab_firmware::assemble_workload(name, &defines(iterations))
            .map_err(anyhow::Error::msg)?;
        let (took, output) =
            native::run(&a.bytes, a.origin).with_context(|| format!("workload `{name}`"))?;
        // The workloads print their result as 16 hex digits and a newline.
        if output.len() != 17 {
            bail!(
                "the workload `{name}` printed {:?} natively, not one 64-bit result",
                String::from_utf8_lossy(&output)
            );
        }
        return Ok(took);
    }
    let mut m = prepared(name, iterations, backend)?;
    let (took, counted) = timed_run(m.as_mut(), name)?;
    if let Some(c) = counted {
        if c != s.instructions(iterations) {
            bail!(
                "the workload `{name}` ran {c} instructions, not the {} its shape predicts",
                s.instructions(iterations)
            );
        }
    }
    Ok(took)
}

/// `fixed + per_iteration * n`: a workload's instruction count as a function of n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub fixed: u64,
    pub per_iteration: u64,
}

impl Shape {
    pub fn instructions(self, n: u64) -> u64 {
        self.fixed + self.per_iteration * n
    }
}

/// Counts a workload's instructions at n = 1 and 2 on the software CPU; also returns the
/// instructions per second seen at n = 2, to size the timed runs.
pub fn shape(name: &str) -> Result<(Shape, f64)> {
    let mut counts = [0u64; 2];
    let mut rate = 0.0;
    for (k, c) in counts.iter_mut().enumerate() {
        let mut m = prepared(name, k as u64 + 1, Backend::Emulator)?;
        let (took, n) = timed_run(m.as_mut(), name)?;
        *c = n.context("the software CPU counts instructions")?;
        rate = *c as f64 / took.as_secs_f64().max(1e-6);
    }
    let per_iteration = counts[1] - counts[0];
    let s = Shape {
        fixed: counts[0] - per_iteration,
        per_iteration,
    };
    if per_iteration == 0 || counts[0] < per_iteration {
        bail!("the workload `{name}` does not run a fixed number of instructions per iteration ({counts:?})");
    }
    Ok((s, rate))
}

/// The iterations that make a run of about `target` at `rate` instructions per second.
pub fn iterations_for(s: Shape, rate: f64, target: Duration) -> u64 {
    let want = rate * target.as_secs_f64();
    ((want - s.fixed as f64) / s.per_iteration as f64).max(1.0) as u64
}

/// Measures every workload of `opts` on every backend of `opts`, calling `progress` with
/// each result as it comes.
pub fn measure(opts: &Options, mut progress: impl FnMut(&Measurement)) -> Result<Vec<Measurement>> {
    let names: Vec<String> = if opts.workloads.is_empty() {
        x86lab_firmware::WORKLOADS
            .iter()
            .map(|(n, _)| n.to_string())
            .collect()
    } else {
        opts.workloads.clone()
    };
    let mut out = Vec::new();
    for name in &names {
        let (s, emulator_rate) = shape(name)?;
        for &backend in &opts.backends {
            // Size the run from a short one on this backend.
            // Grow the run until it lasts a tenth of the target: a short one would mostly
            // measure starting (entering the VM, starting the process, the software CPU's
            // first decoding), and the two tiny runs that gave the shape say little about
            // the speed.
            let rate = {
                let mut n = iterations_for(s, emulator_rate, opts.target / 10);
                loop {
                    let took = timed(name, n, backend, s)?;
                    if took >= opts.target / 10 || n > u64::MAX / 1024 {
                        break s.instructions(n) as f64 / took.as_secs_f64().max(1e-6);
                    }
                    n *= 4;
                }
            };
            let iterations = iterations_for(s, rate, opts.target);
            let mut best = f64::INFINITY;
            for _ in 0..opts.repeats.max(1) {
                best = best.min(timed(name, iterations, backend, s)?.as_secs_f64());
            }
            let m = Measurement {
                workload: name.clone(),
                backend,
                iterations,
                instructions: s.instructions(iterations),
                seconds: best,
            };
            progress(&m);
            out.push(m);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_shapes_match_their_sources() {
        // firmware/workloads/alu.asm's loop body: ADD XOR ROL IMUL SUB SHR ADC DEC JNZ.
        let (s, _) = shape("alu").unwrap();
        assert_eq!(s.per_iteration, 9);
        // call.asm, N = 24: fib(24) has F(25) = 75,025 leaves (CMP JB MOV RET: 4 each) and
        // 75,024 inner calls (CMP JB PUSH PUSH DEC CALL MOV POP SUB CALL ADD POP RET: 13
        // each); the iteration adds MOV CALL ADD DEC JNZ.
        let (c, _) = shape("call").unwrap();
        assert_eq!(c.per_iteration, 5 + 13 * 75_024 + 4 * 75_025);
    }

    #[test]
    fn every_workload_prints_natively_what_the_software_cpu_prints() {
        // The native run is the same machine code on the processor; the software CPU's
        // result is checked against KVM elsewhere (tests/lessons_and_workloads.rs).
        for (name, _) in x86lab_firmware::WORKLOADS {
            let a = x86lab_firmware::assemble_workload(name, &defines(3)).unwrap();
            let (_, native) = native::run(&a.bytes, a.origin).unwrap();
            let mut m = prepared(name, 3, Backend::Emulator).unwrap();
            timed_run(m.as_mut(), name).unwrap();
            let emulated = m.devices().output().take();
            assert_eq!(
                String::from_utf8_lossy(&native),
                String::from_utf8_lossy(&emulated),
                "{name}"
            );
        }
    }

    #[test]
    fn a_native_run_that_faults_is_an_error_not_a_crash() {
        // UD2 at the entry: the child dies of SIGILL, the parent reports it.
        let err = native::run(&[0x0f, 0x0b], 0x10_0000)
            .unwrap_err()
            .to_string();
        assert!(err.contains("signal 4"), "{err}");
        // A store to unmapped memory: SIGSEGV away from an OUT.
        let store = [0x48, 0xc7, 0x04, 0x25, 0, 0, 0, 0x40, 1, 0, 0, 0]; // mov qword [0x40000000], 1
        let err = native::run(&store, 0x10_0000).unwrap_err().to_string();
        assert!(err.contains("other than an OUT"), "{err}");
    }

    #[test]
    fn iterations_fill_the_target_time() {
        let s = Shape {
            fixed: 1000,
            per_iteration: 9,
        };
        // 9 M instructions per second for one second: about a million iterations.
        let n = iterations_for(s, 9e6, Duration::from_secs(1));
        assert_eq!(n, 999_888);
        assert_eq!(iterations_for(s, 1.0, Duration::from_secs(1)), 1);
    }
}
