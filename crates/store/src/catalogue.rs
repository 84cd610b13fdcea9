//! The service catalogue as stored: each import is a new version holding the whole document, and the
//! newest version is the one in force.

use crate::StoreError;
use crate::db::Db;
use crate::rows::micros;
use jiff::Timestamp;
use sea_query::{Expr, Order, Query};

#[derive(sqlx::FromRow)]
struct Document {
    document: String,
}

impl Db {
    /// Stores `document` (catalogue TOML) as the catalogue in force.
    pub async fn save_catalogue(&self, document: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let insert = Query::insert()
            .into_table("catalogue_versions")
            .columns(["loaded_at", "document"])
            .values_panic([Expr::val(micros(now)), Expr::val(document)])
            .to_owned();
        tx.execute(&insert).await?;
        tx.commit().await
    }

    /// The catalogue in force, if one was ever loaded.
    pub async fn latest_catalogue(&self) -> Result<Option<String>, StoreError> {
        let query = Query::select().column("document").from("catalogue_versions").order_by("id", Order::Desc).limit(1).to_owned();
        Ok(self.fetch_optional::<Document, _>(&query).await?.map(|d| d.document))
    }
}
