//! Criterion benchmarks of the speeds issue 9 sets targets for: guest instructions per
//! second on the four workloads (throughput in elements = guest instructions, REP
//! iterations one each), start-up to the first guest instruction, and single-stepping with
//! the state read back (the GUI's path). KVM is measured where /dev/kvm opens; the
//! workloads run in 64-bit user mode on both backends, as `x86lab bench` runs them.
//!
//! `cargo bench --bench speed` (all), or e.g. `cargo bench --bench speed -- workloads/alu`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use x86lab::bench::{self, Backend};
use x86lab_emulator::MemoryLayout;

fn backends() -> Vec<Backend> {
    match x86lab_kvm::KvmMachine::new(MemoryLayout::default()) {
        Ok(_) => vec![Backend::Emulator, Backend::Kvm],
        Err(e) => {
            eprintln!("KVM not measured: {e}");
            vec![Backend::Emulator]
        }
    }
}

fn workloads(c: &mut Criterion) {
    let mut g = c.benchmark_group("workloads");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for (name, _) in x86lab_firmware::WORKLOADS {
        let (shape, emulator_rate) = bench::shape(name).expect("the workload's shape");
        for backend in backends() {
            // About 0.2 s per run on the emulator; KVM runs 100 times as many iterations.
            let scale = if backend == Backend::Kvm { 100.0 } else { 1.0 };
            let n = bench::iterations_for(shape, emulator_rate * scale, Duration::from_millis(200));
            g.throughput(Throughput::Elements(shape.instructions(n)));
            g.bench_function(BenchmarkId::new(*name, backend.name()), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let mut m = bench::prepared(name, n, backend).expect("loads");
                        total += bench::timed_run(m.as_mut(), name).expect("runs").0;
                    }
                    total
                });
            });
        }
    }
    g.finish();
}

/// From nothing to the first guest instruction retired: a machine, the program loaded,
/// one step.
fn start_up(c: &mut Criterion) {
    let mut g = c.benchmark_group("start-up");
    for backend in backends() {
        g.bench_function(backend.name(), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let mut m = bench::prepared("alu", 1, backend).expect("loads");
                    black_box(m.step().expect("steps"));
                    total += start.elapsed();
                }
                total
            });
        });
    }
    g.finish();
}

/// One instruction and the whole state read back, as the GUI steps.
fn single_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("single-step");
    g.throughput(Throughput::Elements(1));
    for backend in backends() {
        let mut m = bench::prepared("alu", u64::MAX >> 1, backend).expect("loads");
        g.bench_function(backend.name(), |b| {
            b.iter(|| {
                black_box(m.step().expect("steps"));
                black_box(m.state().expect("reads back"))
            });
        });
    }
    g.finish();
}

criterion_group!(speed, workloads, start_up, single_step);
criterion_main!(speed);
