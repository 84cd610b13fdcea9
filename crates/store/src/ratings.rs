//! Ratings as rows of their own, beside their timeline events, so that satisfaction can be measured
//! with plain aggregate queries.

use crate::StoreError;
use crate::db::{Db, Tx};
use crate::rows::{from_micros, micros};
use balagh_domain::rating::{ClosureRating, InteractionRating};
use balagh_domain::report::ReportId;
use balagh_domain::vocabulary::Channel;
use jiff::Timestamp;
use sea_query::{Expr, ExprTrait, Order, Query};

/// One rating to store.
#[derive(Debug, Clone, PartialEq)]
pub enum Rating {
    Interaction(InteractionRating),
    Closure(ClosureRating),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RatingRecord {
    pub rating: Rating,
    pub channel: Channel,
    pub at: Timestamp,
}

pub(crate) async fn insert_ratings(tx: &mut Tx<'_>, id: ReportId, ratings: &[RatingRecord]) -> Result<(), StoreError> {
    for record in ratings {
        let (kind, agent_service, answer_quality, quality, speed, not_fixed, comment, agent) = match &record.rating {
            Rating::Interaction(r) => ("interaction", Some(r.agent_service.value()), Some(r.answer_quality.value()), None, None, false, None, r.agent.clone()),
            Rating::Closure(r) => ("closure", None, None, Some(r.quality.value()), Some(r.speed.value()), r.not_fixed, r.comment.clone(), None),
        };
        let to_i64 = |v: Option<u8>| v.map(i64::from);
        let insert = Query::insert()
            .into_table("ratings")
            .columns([
                "report_id",
                "kind",
                "agent_service",
                "answer_quality",
                "closure_quality",
                "closure_speed",
                "not_fixed",
                "comment",
                "agent",
                "channel",
                "at",
            ])
            .values_panic([
                Expr::val(id.0),
                Expr::val(kind),
                Expr::val(to_i64(agent_service)),
                Expr::val(to_i64(answer_quality)),
                Expr::val(to_i64(quality)),
                Expr::val(to_i64(speed)),
                Expr::val(not_fixed),
                Expr::val(comment),
                Expr::val(agent),
                Expr::val(record.channel.as_str()),
                Expr::val(micros(record.at)),
            ])
            .to_owned();
        tx.execute(&insert).await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct LastAt {
    at: i64,
}

impl Db {
    /// When the report's latest closure rating was given, if ever.
    pub async fn last_closure_rating_at(&self, id: ReportId) -> Result<Option<Timestamp>, StoreError> {
        let query = Query::select()
            .column("at")
            .from("ratings")
            .and_where(Expr::col("report_id").eq(id.0))
            .and_where(Expr::col("kind").eq("closure"))
            .order_by("at", Order::Desc)
            .limit(1)
            .to_owned();
        self.fetch_optional::<LastAt, _>(&query).await?.map(|r| from_micros(r.at)).transpose()
    }
}
