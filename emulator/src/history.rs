//! Stepping back on the software CPU: a journal of what each step changed — the registers
//! before it, the bytes its memory writes replaced, the devices' state — so that any step,
//! mode switches and I/O included, can be undone exactly.

use std::collections::VecDeque;

use crate::cpu::{Cpu, Hidden};
use crate::machine::{Event, Machine, MachineError};
use crate::state::CpuState;

/// What one step changed.
struct Record {
    state: CpuState,
    hidden: Hidden,
    writes: Vec<(u64, Vec<u8>)>,
    devices: Vec<(u16, Vec<u8>)>,
    retired: u64,
    /// The caller's console length before the step.
    output_len: usize,
}

/// The steps that can be undone, oldest first (at most `limit`).
pub struct History {
    records: VecDeque<Record>,
    limit: usize,
}

impl History {
    /// A history that keeps the last `limit` steps.
    pub fn new(limit: usize) -> History {
        History {
            records: VecDeque::new(),
            limit: limit.max(1),
        }
    }

    /// How many steps can be undone.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The memory writes of the last recorded step: physical address and the bytes before.
    pub fn last_writes(&self) -> &[(u64, Vec<u8>)] {
        self.records.back().map_or(&[], |r| r.writes.as_slice())
    }

    /// Forgets every step (after the machine was changed from outside).
    pub fn clear(&mut self) {
        self.records.clear();
    }

    /// Runs one step of `cpu` and records it; `output_len` is how much console output the
    /// caller has shown so far (stepping back returns it).
    pub fn step(&mut self, cpu: &mut Cpu, output_len: usize) -> Result<Event, MachineError> {
        let state = cpu.state()?;
        let hidden = cpu.hidden();
        let devices = cpu.devices().snapshot();
        let retired = cpu.instructions_retired().unwrap_or(0);
        cpu.memory_mut().start_journal();
        let event = cpu.step();
        let writes = cpu.memory_mut().journal();
        cpu.memory_mut().stop_journal();
        self.records.push_back(Record {
            state,
            hidden,
            writes,
            devices,
            retired,
            output_len,
        });
        if self.records.len() > self.limit {
            self.records.pop_front();
        }
        event
    }

    /// Undoes the last recorded step; returns the console length to go back to, or `None`
    /// when there is nothing to undo.
    pub fn back(&mut self, cpu: &mut Cpu) -> Result<Option<usize>, MachineError> {
        let Some(r) = self.records.pop_back() else {
            return Ok(None);
        };
        cpu.memory_mut().undo(&r.writes);
        cpu.devices().restore(&r.devices);
        cpu.set_state(&r.state)?;
        cpu.set_hidden(&r.hidden);
        cpu.set_instructions_retired(r.retired);
        Ok(Some(r.output_len))
    }
}
