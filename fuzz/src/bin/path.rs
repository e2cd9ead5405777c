//! Fuzz target `path`: PATCH paths (RFC 7644 §3.5.2) on Users and Groups: parse, print, re-parse.
//! The checks are [`scimitar_fuzz::path`]; see the crate's README.md.

fn main() {
    #[cfg(fuzzing)]
    afl::fuzz!(|data: &[u8]| scimitar_fuzz::path(data));
    #[cfg(not(fuzzing))]
    scimitar_fuzz::replay(scimitar_fuzz::path);
}
