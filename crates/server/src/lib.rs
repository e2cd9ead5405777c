//! scimitar server
