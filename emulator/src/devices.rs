//! The port-I/O bus and its devices, shared by every backend.
//!
//! Devices sit on the bus by port range (as in Firecracker's `Bus`): ranges live in a
//! `BTreeMap`, overlaps are refused, and a device sees `(offset, data)` relative to its base.
//! A port nobody claims reads as all-ones and ignores writes, like an empty ISA slot.

use std::collections::{BTreeMap, VecDeque};

use thiserror::Error;

/// The debug console ("port E9 hack" of Bochs and QEMU): each byte written is console output.
pub const DEBUG_CONSOLE_PORT: u16 = 0xe9;
/// The exit port: a write ends the run with the written value as its status.
pub const EXIT_PORT: u16 = 0xf4;
/// The first serial port, COM1.
pub const COM1_PORT: u16 = 0x3f8;

/// What a device asks of the machine after an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceAction {
    None,
    /// End the run with this status.
    Exit(u32),
}

/// A device on the port bus.
pub trait PortDevice: Send {
    /// A short name, for listings.
    fn name(&self) -> &'static str;
    /// Reads `data.len()` bytes (1, 2 or 4) at `offset` from the device's base port.
    fn read(&mut self, offset: u16, data: &mut [u8], out: &mut Output);
    /// Writes `data` at `offset` from the device's base port.
    fn write(&mut self, offset: u16, data: &[u8], out: &mut Output) -> DeviceAction;
    /// The device's state, for stepping back (a stateless device has none).
    fn snapshot(&self) -> Vec<u8> {
        Vec::new()
    }
    /// Puts back a state [`Self::snapshot`] took.
    fn restore(&mut self, _state: &[u8]) {}
}

/// Console bytes produced by devices, waiting for the host to take them.
#[derive(Debug, Default)]
pub struct Output {
    bytes: Vec<u8>,
}

impl Output {
    pub fn push(&mut self, byte: u8) {
        self.bytes.push(byte);
    }

    /// Takes everything written so far.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }

    pub fn peek(&self) -> &[u8] {
        &self.bytes
    }
}

#[derive(Debug, Error)]
#[error(
    "ports {new_base:#x}..={new_last:#x} of {new} overlap {old} at {old_base:#x}..={old_last:#x}"
)]
pub struct OverlapError {
    new: &'static str,
    new_base: u16,
    new_last: u16,
    old: &'static str,
    old_base: u16,
    old_last: u16,
}

struct Slot {
    last: u16,
    device: Box<dyn PortDevice>,
}

/// The port-I/O bus with its devices and the console output they produce.
pub struct Devices {
    slots: BTreeMap<u16, Slot>,
    output: Output,
}

impl Default for Devices {
    /// The standard set: debug console at 0xE9, exit port at 0xF4, a 16550 UART at 0x3F8.
    fn default() -> Self {
        let mut d = Devices::empty();
        d.insert(DEBUG_CONSOLE_PORT, 1, Box::new(DebugConsole))
            .and_then(|()| d.insert(EXIT_PORT, 1, Box::new(ExitPort)))
            .and_then(|()| d.insert(COM1_PORT, 8, Box::new(Serial16550::default())))
            .expect("the standard ports do not overlap");
        d
    }
}

impl Devices {
    /// A bus with no devices.
    pub fn empty() -> Self {
        Devices {
            slots: BTreeMap::new(),
            output: Output::default(),
        }
    }

    /// Places `device` on ports `base..base+len`.
    pub fn insert(
        &mut self,
        base: u16,
        len: u16,
        device: Box<dyn PortDevice>,
    ) -> Result<(), OverlapError> {
        let last = base.saturating_add(len.max(1) - 1);
        let clash = self
            .slots
            .range(..=last)
            .next_back()
            .filter(|(&b, s)| s.last >= base && b <= last);
        if let Some((&old_base, old)) = clash {
            return Err(OverlapError {
                new: device.name(),
                new_base: base,
                new_last: last,
                old: old.device.name(),
                old_base,
                old_last: old.last,
            });
        }
        self.slots.insert(base, Slot { last, device });
        Ok(())
    }

    /// An IN of `data.len()` bytes from `port`.
    pub fn io_read(&mut self, port: u16, data: &mut [u8]) {
        let Devices { slots, output } = self;
        match slots.range_mut(..=port).next_back() {
            Some((&base, slot)) if slot.last >= port => slot.device.read(port - base, data, output),
            _ => data.fill(0xff),
        }
    }

    /// An OUT of `data` to `port`.
    pub fn io_write(&mut self, port: u16, data: &[u8]) -> DeviceAction {
        let Devices { slots, output } = self;
        match slots.range_mut(..=port).next_back() {
            Some((&base, slot)) if slot.last >= port => {
                slot.device.write(port - base, data, output)
            }
            _ => DeviceAction::None,
        }
    }

    /// Console output (debug console and serial transmit) not yet taken.
    pub fn output(&mut self) -> &mut Output {
        &mut self.output
    }

    /// Every device's state ([`PortDevice::snapshot`]), by base port.
    pub fn snapshot(&self) -> Vec<(u16, Vec<u8>)> {
        self.slots
            .iter()
            .map(|(&b, s)| (b, s.device.snapshot()))
            .collect()
    }

    /// Puts back states [`Self::snapshot`] took.
    pub fn restore(&mut self, states: &[(u16, Vec<u8>)]) {
        for (base, state) in states {
            if let Some(slot) = self.slots.get_mut(base) {
                slot.device.restore(state);
            }
        }
    }

    /// (base, last, name) of each device, in port order.
    pub fn list(&self) -> Vec<(u16, u16, &'static str)> {
        self.slots
            .iter()
            .map(|(&b, s)| (b, s.last, s.device.name()))
            .collect()
    }
}

/// Port 0xE9: every byte written is console output; reads return 0xE9, as in Bochs and QEMU,
/// so a guest can detect the port.
pub struct DebugConsole;

impl PortDevice for DebugConsole {
    fn name(&self) -> &'static str {
        "debug console"
    }

    fn read(&mut self, _offset: u16, data: &mut [u8], _out: &mut Output) {
        data.fill(0);
        data[0] = DEBUG_CONSOLE_PORT as u8;
    }

    fn write(&mut self, _offset: u16, data: &[u8], out: &mut Output) -> DeviceAction {
        // A wider OUT writes its low byte to the port (and the rest to the next ports, which
        // the console does not own). `out dx, ax` to 0xE9 therefore prints AL.
        out.push(data[0]);
        DeviceAction::None
    }
}

/// Port 0xF4: a write ends the run with the written value (zero-extended) as its status.
pub struct ExitPort;

impl PortDevice for ExitPort {
    fn name(&self) -> &'static str {
        "exit port"
    }

    fn read(&mut self, _offset: u16, data: &mut [u8], _out: &mut Output) {
        data.fill(0xff);
    }

    fn write(&mut self, _offset: u16, data: &[u8], _out: &mut Output) -> DeviceAction {
        let mut v = [0u8; 4];
        v[..data.len()].copy_from_slice(data);
        DeviceAction::Exit(u32::from_le_bytes(v))
    }
}

/// A 16550A UART as software sees it: transmitted bytes become console output at once (the
/// line is infinitely fast, so the transmitter is always empty), received bytes come from a
/// host-side queue, loopback mode feeds transmitted bytes back to the receiver, and the
/// divisor latch, scratch, line and modem control registers hold what is written. Interrupts
/// are not wired to a CPU pin (there is no interrupt controller yet); IIR reports them anyway.
#[derive(Debug)]
pub struct Serial16550 {
    ier: u8,
    lcr: u8,
    mcr: u8,
    scr: u8,
    fcr: u8,
    divisor: u16,
    rx: VecDeque<u8>,
}

impl Default for Serial16550 {
    fn default() -> Self {
        Serial16550 {
            ier: 0,
            lcr: 0x03,
            mcr: 0,
            scr: 0,
            fcr: 0,
            divisor: 12, // 9600 baud
            rx: VecDeque::new(),
        }
    }
}

impl Serial16550 {
    const LSR_DR: u8 = 0x01;
    const LSR_THRE: u8 = 0x20;
    const LSR_TEMT: u8 = 0x40;
    const MCR_LOOP: u8 = 0x10;

    /// Queues bytes for the guest to receive.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.rx.extend(bytes);
    }

    fn dlab(&self) -> bool {
        self.lcr & 0x80 != 0
    }

    fn read_reg(&mut self, offset: u16) -> u8 {
        match offset {
            0 if self.dlab() => self.divisor as u8,
            0 => self.rx.pop_front().unwrap_or(0),
            1 if self.dlab() => (self.divisor >> 8) as u8,
            1 => self.ier,
            2 => {
                // Interrupt identification: receive data available beats transmitter empty.
                let fifo = if self.fcr & 1 != 0 { 0xc0 } else { 0 };
                let id = if self.ier & 1 != 0 && !self.rx.is_empty() {
                    0x04
                } else if self.ier & 2 != 0 {
                    0x02
                } else {
                    0x01
                };
                fifo | id
            }
            3 => self.lcr,
            4 => self.mcr,
            5 => {
                let dr = if self.rx.is_empty() { 0 } else { Self::LSR_DR };
                Self::LSR_THRE | Self::LSR_TEMT | dr
            }
            6 => {
                if self.mcr & Self::MCR_LOOP != 0 {
                    // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
                    let m = self.mcr;
                    ((m & 1) << 5) | ((m & 2) << 3) | ((m & 4) << 4) | ((m & 8) << 4)
                } else {
                    0xb0 // DCD, DSR, CTS: a cable with a listener on it
                }
            }
            _ => self.scr,
        }
    }

    fn write_reg(&mut self, offset: u16, v: u8, out: &mut Output) {
        match offset {
            0 if self.dlab() => self.divisor = (self.divisor & 0xff00) | u16::from(v),
            0 if self.mcr & Self::MCR_LOOP != 0 => self.rx.push_back(v),
            0 => out.push(v),
            1 if self.dlab() => self.divisor = (self.divisor & 0x00ff) | (u16::from(v) << 8),
            1 => self.ier = v & 0x0f,
            2 => {
                self.fcr = v;
                if v & 2 != 0 {
                    self.rx.clear();
                }
            }
            3 => self.lcr = v,
            4 => self.mcr = v & 0x1f,
            5 | 6 => {} // status registers are read-only
            _ => self.scr = v,
        }
    }
}

impl PortDevice for Serial16550 {
    fn name(&self) -> &'static str {
        "serial 16550 (COM1)"
    }

    fn read(&mut self, offset: u16, data: &mut [u8], _out: &mut Output) {
        for (i, b) in data.iter_mut().enumerate() {
            *b = self.read_reg(offset + i as u16);
        }
    }

    fn write(&mut self, offset: u16, data: &[u8], out: &mut Output) -> DeviceAction {
        for (i, &b) in data.iter().enumerate() {
            if offset + (i as u16) < 8 {
                self.write_reg(offset + i as u16, b, out);
            }
        }
        DeviceAction::None
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut s = vec![self.ier, self.lcr, self.mcr, self.scr, self.fcr];
        s.extend_from_slice(&self.divisor.to_le_bytes());
        s.extend(self.rx.iter());
        s
    }

    fn restore(&mut self, s: &[u8]) {
        if let [ier, lcr, mcr, scr, fcr, d0, d1, rx @ ..] = s {
            (self.ier, self.lcr, self.mcr, self.scr, self.fcr) = (*ier, *lcr, *mcr, *scr, *fcr);
            self.divisor = u16::from_le_bytes([*d0, *d1]);
            self.rx = rx.iter().copied().collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_and_serial_bytes_become_output() {
        let mut d = Devices::default();
        d.io_write(DEBUG_CONSOLE_PORT, b"h");
        d.io_write(COM1_PORT, b"i");
        assert_eq!(d.output().take(), b"hi");
        assert!(d.output().peek().is_empty());
    }

    #[test]
    fn exit_port_requests_exit_with_the_written_value() {
        let mut d = Devices::default();
        assert_eq!(d.io_write(EXIT_PORT, &[7]), DeviceAction::Exit(7));
        assert_eq!(
            d.io_write(EXIT_PORT, &0x1234_5678u32.to_le_bytes()),
            DeviceAction::Exit(0x1234_5678)
        );
    }

    #[test]
    fn unclaimed_ports_read_all_ones() {
        let mut d = Devices::default();
        let mut b = [0u8; 2];
        d.io_read(0x60, &mut b);
        assert_eq!(b, [0xff, 0xff]);
        assert_eq!(d.io_write(0x60, &[1]), DeviceAction::None);
    }

    #[test]
    fn overlapping_devices_are_refused() {
        let mut d = Devices::default();
        let err = d.insert(0x3fc, 2, Box::new(ExitPort)).unwrap_err();
        assert!(err.to_string().contains("overlap"), "{err}");
        d.insert(0x400, 1, Box::new(ExitPort)).unwrap();
        assert_eq!(d.list().len(), 4);
    }

    #[test]
    fn device_state_snapshots_restore() {
        let mut d = Devices::default();
        d.io_write(COM1_PORT + 7, &[0x11]);
        let s = d.snapshot();
        d.io_write(COM1_PORT + 7, &[0x22]);
        d.io_write(COM1_PORT + 4, &[0x10]);
        d.io_write(COM1_PORT, b"q");
        d.restore(&s);
        let mut b = [0u8];
        d.io_read(COM1_PORT + 7, &mut b);
        assert_eq!(b[0], 0x11);
        d.io_read(COM1_PORT + 5, &mut b);
        assert_eq!(b[0] & 1, 0, "the looped-back byte is gone");
    }

    #[test]
    fn uart_registers_behave_like_a_16550() {
        let mut d = Devices::default();
        let mut b = [0u8];
        // LSR: transmitter empty, nothing received.
        d.io_read(COM1_PORT + 5, &mut b);
        assert_eq!(b[0], 0x60);
        // Divisor latch through DLAB.
        d.io_write(COM1_PORT + 3, &[0x83]);
        d.io_write(COM1_PORT, &[0x01]);
        d.io_read(COM1_PORT, &mut b);
        assert_eq!(b[0], 0x01);
        d.io_write(COM1_PORT + 3, &[0x03]);
        // Scratch register.
        d.io_write(COM1_PORT + 7, &[0x5a]);
        d.io_read(COM1_PORT + 7, &mut b);
        assert_eq!(b[0], 0x5a);
        // Loopback: a transmitted byte is received, not printed.
        d.io_write(COM1_PORT + 4, &[0x10]);
        d.io_write(COM1_PORT, b"x");
        d.io_read(COM1_PORT + 5, &mut b);
        assert_eq!(b[0] & 1, 1);
        d.io_read(COM1_PORT, &mut b);
        assert_eq!(b[0], b'x');
        assert!(d.output().peek().is_empty());
    }
}
