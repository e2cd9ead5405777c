//! scimitar core
