//! API keys: created by an administrator for Open311 clients and staff tools, presented on each
//! request, and turned into the `Actor` whose role the domain checks.

use crate::{App, AppError};
use balagh_domain::escalation::Position;
use balagh_domain::event::{Actor, Role};
use balagh_domain::report::short_text;
use rand::RngCore;

/// The prefix of every key, so a leaked key is recognisable in logs and scanners.
const KEY_PREFIX: &str = "blg_";

impl App {
    /// Creates a key named `name` with `role`, optionally bound to a department, and returns the
    /// secret: it is shown once and only its hash is stored.
    pub async fn create_api_key(&self, name: &str, role: Role, department: Option<&str>, position: Option<Position>) -> Result<String, AppError> {
        let name = short_text("name", Some(name))?.ok_or_else(|| balagh_domain::FieldError::new("name", "missing_name", "a key needs a name"))?;
        if matches!(role, Role::Beneficiary | Role::System) {
            return Err(balagh_domain::FieldError::new("role", "invalid_role", "keys are for integration, agent, staff, supervisor or admin roles").into());
        }
        if let Some(department) = department
            && self.catalogue().department(department).is_none()
        {
            return Err(balagh_domain::FieldError::new("department", "unknown_department", format!("department '{department}' is not in the catalogue")).into());
        }
        if let Some(position) = position {
            if !matches!(role, Role::Supervisor | Role::Admin) {
                return Err(balagh_domain::FieldError::new("position", "invalid_position", "only supervisor and admin keys hold a position").into());
            }
            if position.is_departmental() && department.is_none() {
                return Err(balagh_domain::FieldError::new(
                    "position",
                    "invalid_position",
                    format!("a {} key must be bound to a department", position.as_str()),
                )
                .into());
            }
        }
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let secret = format!("{KEY_PREFIX}{}", hex::encode(bytes));
        self.store.db.insert_api_key(&name, role, department, position, &secret, self.now()).await?;
        Ok(secret)
    }

    /// The actor a presented key stands for, or `None` when the key is unknown or revoked.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Actor>, AppError> {
        if !secret.starts_with(KEY_PREFIX) || secret.len() > 128 {
            return Ok(None);
        }
        Ok(self.store.db.api_key_by_secret(secret).await?.map(|key| Actor {
            role: key.role,
            id: Some(key.name),
            department: key.department,
            position: key.position,
        }))
    }
}
