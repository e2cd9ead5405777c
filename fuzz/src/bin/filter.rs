//! Fuzz target `filter`: Filters (RFC 7644 §3.4.2.2) on Users and Groups: parse, print, re-parse, evaluate.
//! The checks are [`scimitar_fuzz::filter`]; see the crate's README.md.

fn main() {
    #[cfg(fuzzing)]
    afl::fuzz!(|data: &[u8]| scimitar_fuzz::filter(data));
    #[cfg(not(fuzzing))]
    scimitar_fuzz::replay(scimitar_fuzz::filter);
}
