//! Per-instance resource limits, remembering which one a guest hit.

use wasmtime::ResourceLimiter;

/// Caps a call's linear memory and tables. Growing past the cap traps at once (rather
/// than returning -1, which a Rust guest turns into an abort with a vaguer message), and
/// the limiter remembers it so the trap can be reported as a memory limit.
pub(crate) struct Limiter {
    memory_bytes: usize,
    table_elements: usize,
    memory_exceeded: bool,
}

impl Limiter {
    pub(crate) fn new(memory_bytes: usize, table_elements: usize) -> Self {
        Self {
            memory_bytes,
            table_elements,
            memory_exceeded: false,
        }
    }

    /// The limit, if the guest tried to go past it.
    pub(crate) fn memory_exceeded(&self) -> Option<usize> {
        self.memory_exceeded.then_some(self.memory_bytes)
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_exceeded = true;
            wasmtime::bail!(
                "memory limit of {} bytes exceeded (wanted {desired})",
                self.memory_bytes
            );
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            wasmtime::bail!(
                "table limit of {} elements exceeded (wanted {desired})",
                self.table_elements
            );
        }
        Ok(true)
    }
}
