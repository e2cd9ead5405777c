//! Fuzz target `patch`: PATCH bodies: parse_patch, apply to users and a group, re-parse the result.
//! The checks are [`scimitar_fuzz::patch`]; see the crate's README.md.

fn main() {
    #[cfg(fuzzing)]
    afl::fuzz!(|data: &[u8]| scimitar_fuzz::patch(data));
    #[cfg(not(fuzzing))]
    scimitar_fuzz::replay(scimitar_fuzz::patch);
}
