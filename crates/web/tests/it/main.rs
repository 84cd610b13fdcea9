//! Integration tests for the HTTP surface: each test starts the real server on 127.0.0.1 port 0
//! with its own database (SQLite, or PostgreSQL when BALAGH_TEST_DATABASE_URL is set).

mod api_v1;
mod bad_input;
mod dispatch;
mod escalation;
mod escalations_api;
mod ivr;
mod notify;
mod open311;
mod operations;
mod portal;
mod portal_browser;
mod portal_place;
