//! API keys for Open311 clients and staff tools. Only a SHA-256 hash of each key is stored; the key
//! itself is shown once, when it is created.

use crate::StoreError;
use crate::db::Db;
use crate::rows::micros;
use balagh_domain::escalation::Position;
use balagh_domain::event::Role;
use jiff::Timestamp;
use sea_query::{Expr, ExprTrait, Order, Query};
use sha2::{Digest, Sha256};

/// A stored key's public facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub department: Option<String>,
    /// The position its holder fills, for escalations addressed to it.
    pub position: Option<Position>,
    pub created_at: i64,
    pub revoked: bool,
}

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: i64,
    name: String,
    role: String,
    department: Option<String>,
    position: Option<String>,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl ApiKeyRow {
    fn into_key(self) -> Result<ApiKey, StoreError> {
        Ok(ApiKey {
            id: self.id,
            role: Role::parse(&self.role).ok_or_else(|| StoreError::Corrupt(format!("api key role '{}'", self.role)))?,
            name: self.name,
            department: self.department,
            position: match self.position {
                Some(text) => Some(Position::parse(&text).ok_or_else(|| StoreError::Corrupt(format!("api key position '{text}'")))?),
                None => None,
            },
            created_at: self.created_at,
            revoked: self.revoked_at.is_some(),
        })
    }
}

/// The stored form of a key.
pub fn hash_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

const KEY_COLUMNS: [&str; 7] = ["id", "name", "role", "department", "position", "created_at", "revoked_at"];

impl Db {
    /// Stores a new key under `name`; fails with `Conflict` if the name is taken.
    pub async fn insert_api_key(
        &self,
        name: &str,
        role: Role,
        department: Option<&str>,
        position: Option<Position>,
        secret: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let insert = Query::insert()
            .into_table("api_keys")
            .columns(["name", "role", "department", "position", "key_hash", "created_at"])
            .values_panic([
                Expr::val(name),
                Expr::val(role.as_str()),
                Expr::val(department.map(str::to_owned)),
                Expr::val(position.map(|p| p.as_str())),
                Expr::val(hash_key(secret)),
                Expr::val(micros(now)),
            ])
            .to_owned();
        tx.execute(&insert).await.map_err(|e| match e {
            StoreError::Database(ref m) if m.contains("unique") || m.contains("UNIQUE") => {
                StoreError::Conflict(format!("an api key named '{name}' already exists"))
            }
            other => other,
        })?;
        tx.commit().await
    }

    /// The unrevoked key with this secret, if any.
    pub async fn api_key_by_secret(&self, secret: &str) -> Result<Option<ApiKey>, StoreError> {
        let query = Query::select()
            .columns(KEY_COLUMNS)
            .from("api_keys")
            .and_where(Expr::col("key_hash").eq(hash_key(secret)))
            .and_where(Expr::col("revoked_at").is_null())
            .to_owned();
        self.fetch_optional::<ApiKeyRow, _>(&query).await?.map(ApiKeyRow::into_key).transpose()
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let query = Query::select().columns(KEY_COLUMNS).from("api_keys").order_by("id", Order::Asc).to_owned();
        self.fetch_all::<ApiKeyRow, _>(&query).await?.into_iter().map(ApiKeyRow::into_key).collect()
    }

    /// Revokes the key called `name`; false when there is no such unrevoked key.
    pub async fn revoke_api_key(&self, name: &str, now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let update = Query::update()
            .table("api_keys")
            .value("revoked_at", micros(now))
            .and_where(Expr::col("name").eq(name))
            .and_where(Expr::col("revoked_at").is_null())
            .to_owned();
        let changed = tx.execute(&update).await? > 0;
        tx.commit().await?;
        Ok(changed)
    }
}
