//! The photos beneficiaries attach to reports: stored with the report in the intake's own
//! transaction (so a report never lacks a photo it names, and a photo never outlives a failed
//! report), read back only for staff. The bytes arrive already checked and stripped of metadata.

use crate::StoreError;
use crate::db::{Db, Tx};
use crate::rows::micros;
use balagh_domain::report::ReportId;
use jiff::Timestamp;
use sea_query::{Expr, ExprTrait, OnConflict, Query};

/// A photo to store with a new report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMedia {
    /// Hex SHA-256 of `bytes`: the name the report's `media:photo:…` reference uses.
    pub sha256: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl NewMedia {
    /// The reference a report keeps for this photo.
    pub fn reference(&self) -> String {
        format!("media:photo:{}", self.sha256)
    }
}

/// A stored photo.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredMedia {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Writes a new report's photos (the same photo twice is stored once).
pub(crate) async fn insert_media(tx: &mut Tx<'_>, rows: &[(ReportId, &NewMedia)], created_at: Timestamp) -> Result<(), StoreError> {
    for (report, media) in rows {
        let insert = Query::insert()
            .into_table("media")
            .columns(["report_id", "sha256", "content_type", "size", "bytes", "created_at"])
            .values([
                Expr::val(report.0),
                Expr::val(media.sha256.clone()),
                Expr::val(media.content_type.clone()),
                Expr::val(media.bytes.len() as i64),
                Expr::val(media.bytes.clone()),
                Expr::val(micros(created_at)),
            ])
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
            .on_conflict(OnConflict::columns(["report_id", "sha256"]).do_nothing().to_owned())
            .to_owned();
        tx.execute(&insert).await?;
    }
    Ok(())
}

impl Db {
    /// One photo of a report, by its SHA-256.
    pub async fn media(&self, report: ReportId, sha256: &str) -> Result<Option<StoredMedia>, StoreError> {
        let query = Query::select()
            .columns(["content_type", "bytes"])
            .from("media")
            .and_where(Expr::col("report_id").eq(report.0))
            .and_where(Expr::col("sha256").eq(sha256))
            .to_owned();
        self.fetch_optional::<StoredMedia, _>(&query).await
    }
}
