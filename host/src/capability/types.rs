//! `zato:service/types` has no functions, but a component that imports it needs the
//! (empty) instance to link.

use wasmtime::component::{HasData, Linker};

use crate::wit::zato::service::types::{self, Host};

struct Types;

impl HasData for Types {
    type Data<'a> = Types;
}

impl Host for Types {}

pub fn add_to_linker<T: Send + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    types::add_to_linker::<T, Types>(linker, |_| Types)
}
