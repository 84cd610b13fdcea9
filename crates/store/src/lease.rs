//! Claiming rows with a lease, as the escalation worker (`timers`) and the dispatcher (`outbox`)
//! do: the eligible rows whose lease is absent or over, oldest first, locked with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite's single writer serializes claims), are given to
//! `owner` until the lease ends. A crashed claimer's rows pass to another when it does.

use crate::rows::micros;
use jiff::{SignedDuration, Timestamp};
use sea_query::{Cond, Expr, ExprTrait, LockBehavior, LockType, Order, Query, UpdateStatement};

/// Which rows of a table a claim may take.
pub(crate) struct Claim {
    pub table: &'static str,
    /// The column that names a row (`IN (subquery)` on it selects the claimed rows).
    pub key: &'static str,
    /// What makes a row eligible besides its lease (due, pending, …).
    pub eligible: Cond,
    /// Claimed oldest first by this column.
    pub order_by: &'static str,
    /// Further columns the claim sets (the outbox counts its claims).
    pub also_set: Vec<(&'static str, Expr)>,
}

impl Claim {
    /// The UPDATE that gives up to `limit` eligible, unleased rows to `owner` until `now + lease`;
    /// callers add what it returns.
    pub(crate) fn statement(self, owner: &str, now: Timestamp, lease: SignedDuration, limit: u64) -> UpdateStatement {
        let now_micros = micros(now);
        let claimable = Query::select()
            .column(self.key)
            .from(self.table)
            .cond_where(self.eligible.clone())
            .cond_where(Cond::any().add(Expr::col("lease_until").is_null()).add(Expr::col("lease_until").lte(now_micros)))
            .order_by(self.order_by, Order::Asc)
            .limit(limit)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let mut values = vec![("lease_owner", Expr::val(owner.to_owned())), ("lease_until", Expr::val(micros(now.checked_add(lease).unwrap_or(now))))];
        values.extend(self.also_set);
        Query::update().table(self.table).values(values).cond_where(self.eligible).and_where(Expr::col(self.key).in_subquery(claimable)).to_owned()
    }
}
