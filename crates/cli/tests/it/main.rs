//! The scimitar binary's end-to-end tests, in one binary: real processes
//! over real sockets. `common` starts servers and runs CLI commands.

mod common;

mod admin_json;
mod concurrency;
mod connections;
mod durability;
mod e2e_entra;
mod faults;
