//! `zato:service/request`: what a service reads of its request beyond the record that
//! `handle` receives, answered from the details its channel handed to the call.

use crate::runtime::Ctx;
use crate::runtime::bindings::zato::service::request::Host;

type Pairs = Vec<(String, String)>;

fn owned<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Pairs {
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

impl Host for Ctx {
    fn cid(&mut self) -> wasmtime::Result<String> {
        Ok(self.cid.to_string())
    }

    fn channel_name(&mut self) -> wasmtime::Result<String> {
        Ok(self.details.channel_name().to_owned())
    }

    fn method(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.details.http().map(|(method, _)| method.to_owned()))
    }

    fn path(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.details.http().map(|(_, path)| path.to_owned()))
    }

    fn header(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(self.details.header(&name).map(str::to_owned))
    }

    fn headers(&mut self) -> wasmtime::Result<Pairs> {
        Ok(owned(self.details.headers()))
    }

    fn query(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(self.details.query(&name).map(|value| value.into_owned()))
    }

    fn query_pairs(&mut self) -> wasmtime::Result<Pairs> {
        Ok(self
            .details
            .query_pairs()
            .into_iter()
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect())
    }

    fn path_param(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(self.details.path_param(&name).map(str::to_owned))
    }

    fn path_params(&mut self) -> wasmtime::Result<Pairs> {
        Ok(owned(self.details.path_params()))
    }
}
