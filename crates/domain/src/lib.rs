//! Balagh's domain: what a report is, how it moves through its lifecycle, what the catalogue offers,
//! and how beneficiaries rate and follow up. Pure: no IO, no async, never reads the clock (`now` is
//! always a parameter), so every rule here is testable with plain values.

pub mod calendar;
pub mod catalogue;
pub mod contact;
pub mod digits;
pub mod error;
pub mod escalation;
pub mod event;
pub mod geo;
pub mod lifecycle;
pub mod photo;
pub mod quiet_hours;
pub mod rating;
pub mod report;
pub mod sla;
pub mod ticket;
pub mod vocabulary;

pub use catalogue::{Catalogue, Service};
pub use contact::{Contact, Email, Language, PhoneNumber};
pub use error::{FieldError, ValidationErrors};
pub use event::{Actor, Event, EventKind, Role};
pub use geo::{Coordinates, Location, ShortAddress};
pub use lifecycle::{Command, Transition, TransitionError, apply};
pub use rating::{ClosureRating, InteractionRating, Score};
pub use report::{Description, NewReport, Report, ReportDraft, ReportId};
pub use ticket::TicketNumber;
pub use vocabulary::{Channel, ContactKind, OpenStatus, Priority, Status};
