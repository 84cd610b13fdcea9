//! The fakes, driven over real sockets by the real provider clients.

mod caller;
mod smtp;
mod twilio;
mod webhook;
mod whatsapp;
