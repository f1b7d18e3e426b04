//! Clients: the HTTP/3 client behind `pushlab get`.

pub mod h3;
