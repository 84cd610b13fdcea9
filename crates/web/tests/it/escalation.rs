//! Escalation timers and the worker, driven with a fixed clock: chains climbed over weeks of
//! working days, holidays and Ramadan hours, emergencies at night, reopenings, pauses and
//! follow-ups; and exactly one escalation per step through reruns, racing workers, a worker that
//! dies after claiming, a change between claim and fire, and a restart.

use balagh_app::{App, EscalationFilter, EscalationWorker, Outcome, StoredEscalation};
use balagh_domain::calendar::BusinessCalendar;
use balagh_domain::escalation::Progress;
use balagh_domain::event::{Actor, Role};
use balagh_domain::lifecycle::Command;
use balagh_domain::rating::{ClosureRating, Score};
use balagh_domain::report::ReportId;
use balagh_domain::vocabulary::{Channel, Priority, Status};
use balagh_domain::{EventKind, TicketNumber};
use balagh_test_support::{TestApp, report_body, spawn_app};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

/// Opens a report through the API and returns its ticket.
async fn open(app: &TestApp, changes: Value) -> TicketNumber {
    let mut body = report_body();
    for (key, value) in changes.as_object().expect("an object") {
        body[key] = value.clone();
    }
    let response = app.post_report(&body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    let view: Value = response.json().await.expect("json");
    TicketNumber::parse(view["ticket"].as_str().expect("ticket")).expect("valid ticket")
}

fn supervisor() -> Actor {
    Actor::new(Role::Supervisor, "supervisor-1")
}

fn worker(app: &App, name: &str) -> EscalationWorker {
    EscalationWorker::new(app.clone(), name)
}

async fn escalations(app: &App, ticket: TicketNumber) -> Vec<StoredEscalation> {
    let filter = EscalationFilter { report: Some(ticket.report_id()), limit: 1000, ..EscalationFilter::default() };
    let mut rows = app.store.db.escalations(&filter).await.expect("escalations");
    rows.reverse();
    rows
}

/// Each fired step once: (round, step, level) in firing order.
async fn steps(app: &App, ticket: TicketNumber) -> Vec<(u32, u32, u32)> {
    let mut steps: Vec<(u32, u32, u32)> = escalations(app, ticket).await.iter().map(|e| (e.round, e.step, e.level)).collect();
    steps.dedup();
    steps
}

async fn timer(app: &App, ticket: TicketNumber) -> Option<Timestamp> {
    app.store.db.timer_due(balagh_app::TimerKind::Escalation, ticket.report_id()).await.expect("timer")
}

async fn transition(app: &App, ticket: TicketNumber, command: Command) {
    app.transition(ticket, command, &supervisor(), Channel::Web).await.expect("transition");
}

/// Assigns the report to its department, starts and resolves it.
async fn resolve(app: &App, ticket: TicketNumber, resolution: &str) {
    let department = app.report(ticket).await.unwrap().assignment.department;
    transition(app, ticket, Command::Assign { department, team: None, user: None }).await;
    transition(app, ticket, Command::Start).await;
    transition(app, ticket, Command::Resolve { resolution: resolution.into() }).await;
}

/// Moves the clock to the report's next timer and runs the worker there, like the worker loop
/// does; returns the instant, or `None` when the report has no timer left or it lies past `until`.
async fn fire_next(app: &TestApp, ticket: TicketNumber, until: Timestamp) -> Option<Timestamp> {
    let due = timer(&app.app, ticket).await?;
    if due > until {
        return None;
    }
    if due > app.app.now() {
        app.clock.set(due);
    }
    let outcome = worker(&app.app, "sim").run_once(app.app.now()).await.expect("worker pass");
    assert!(matches!(outcome, Outcome::Worked(_)), "a due timer fires");
    Some(due)
}

fn calendar(app: &App) -> &BusinessCalendar {
    &app.sla().calendars["default"]
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("instant")
}

#[tokio::test]
async fn a_report_climbs_its_chain_over_weeks_in_working_time_only_then_is_reminded_until_resolved() {
    let app = spawn_app().await;
    // Sunday 1 March 2026, 10:00 in Riyadh: Ramadan hours (10:00–15:00) until the Eid holiday
    // (18–23 March), then normal hours. The default chain: 75% used, breach, breach + 14h,
    // breach + 35h, then a reminder every 7 working hours.
    let ticket = open(&app, json!({})).await;
    let report = app.app.report(ticket).await.unwrap();
    let expected = report.expected_at.expect("expected resolution");
    let until = at("2026-04-05T00:00:00Z");
    let mut fired_at = Vec::new();
    while let Some(due) = fire_next(&app, ticket, until).await {
        fired_at.push(due);
    }
    let calendar = calendar(&app.app);
    for instant in &fired_at {
        // A deadline may fall exactly as a shift ends.
        let inside = calendar.is_working_time(*instant) || calendar.is_working_time(*instant - SignedDuration::from_mins(1));
        assert!(inside, "{instant} is outside working time");
        let day = instant.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(3))).date();
        assert!(!(jiff::civil::date(2026, 3, 18)..=jiff::civil::date(2026, 3, 23)).contains(&day), "{instant} is in the Eid holiday");
        assert!(!matches!(day.weekday(), jiff::civil::Weekday::Friday | jiff::civil::Weekday::Saturday), "{instant} is a weekend");
    }
    let steps = steps(&app.app, ticket).await;
    assert!(steps.len() > 6, "four levels then reminders: {steps:?}");
    for (i, (round, step, level)) in steps.iter().enumerate() {
        assert_eq!((*round, *step), (0, i as u32), "each step once, in order");
        assert_eq!(*level, Ord::min(i as u32 + 1, 4));
    }
    assert_eq!(fired_at[1], expected, "the second level fires at the breach");
    assert!(fired_at[0] < expected);
    let timeline = app.app.timeline(ticket, &supervisor()).await.unwrap();
    let escalated = timeline.iter().filter(|e| matches!(e.event.kind, EventKind::Escalated { .. })).count();
    assert_eq!(escalated, steps.len(), "every step is on the timeline");
    let (outbox, to_beneficiary): (Vec<_>, Vec<_>) =
        app.app.store.db.outbox(Some(ticket.report_id()), 1000).await.unwrap().into_iter().partition(|m| m.topic == "escalation");
    assert_eq!(outbox.len(), steps.len(), "each step notifies its one target");
    assert_eq!(to_beneficiary.len(), 2, "the beneficiary hears of the levels fired past the deadline, not of reminders");
    assert!(to_beneficiary.iter().all(|m| m.topic == "escalated" && m.recipient.starts_with("sms:")));
    assert!(outbox.iter().all(|m| m.topic == "escalation" && m.state == "pending"));
    assert_eq!(outbox[1].recipient, "department_manager@cleanliness");
    // Level 3 raised the priority; level 2 flagged the report.
    let report = app.app.report(ticket).await.unwrap();
    assert_eq!(report.priority, Priority::High);
    assert!(report.escalation.flagged);
    // Resolving stops the chain: no timer, nothing more fires, the flag is lowered.
    resolve(&app.app, ticket, "emptied").await;
    assert_eq!(timer(&app.app, ticket).await, None);
    app.clock.advance(SignedDuration::from_hours(24 * 30));
    assert_eq!(worker(&app.app, "w").run_once(app.app.now()).await.unwrap(), Outcome::Idle);
    assert!(!app.app.report(ticket).await.unwrap().escalation.flagged);
}

#[tokio::test]
async fn an_emergency_at_2am_on_a_friday_reaches_the_committee_at_once_and_hourly_until_safe() {
    let app = spawn_app().await;
    // Friday 6 March 2026, 02:00 in Riyadh.
    app.clock.set(at("2026-03-05T23:00:00Z"));
    let ticket = open(&app, json!({ "priority": "emergency" })).await;
    let created = app.app.now();
    assert_eq!(timer(&app.app, ticket).await, Some(created), "due at once");
    assert_eq!(worker(&app.app, "w").run_once(created).await.unwrap(), Outcome::Worked(1));
    let first = escalations(&app.app, ticket).await;
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].target.as_str(), first[0].level, first[0].fired_at), ("emergency_committee", 1, created));
    // Breach after the 4-hour wall-clock target: the committee and the mayor's office.
    let breach = created + SignedDuration::from_hours(4);
    assert_eq!(timer(&app.app, ticket).await, Some(breach));
    app.clock.set(breach - SignedDuration::from_secs(1));
    assert_eq!(worker(&app.app, "w").run_once(app.app.now()).await.unwrap(), Outcome::Idle, "nothing before the breach");
    app.clock.set(breach);
    assert_eq!(worker(&app.app, "w").run_once(breach).await.unwrap(), Outcome::Worked(1));
    let targets: Vec<String> = escalations(&app.app, ticket).await.iter().filter(|e| e.level == 2).map(|e| e.target.clone()).collect();
    assert_eq!(targets, ["emergency_committee", "mayors_office"]);
    // Then every hour, through the night and the weekend.
    for hour in 1..=3 {
        let due = breach + SignedDuration::from_hours(hour);
        assert_eq!(timer(&app.app, ticket).await, Some(due));
        app.clock.set(due);
        assert_eq!(worker(&app.app, "w").run_once(due).await.unwrap(), Outcome::Worked(1));
    }
    assert_eq!(steps(&app.app, ticket).await, [(0, 0, 1), (0, 1, 2), (0, 2, 2), (0, 3, 2), (0, 4, 2)]);
    resolve(&app.app, ticket, "barrier placed and hole filled").await;
    assert_eq!(timer(&app.app, ticket).await, None);
}

#[tokio::test]
async fn a_reopened_report_climbs_its_chain_again_from_the_first_level() {
    let app = spawn_app().await;
    let ticket = open(&app, json!({})).await;
    fire_next(&app, ticket, at("2027-01-01T00:00:00Z")).await.expect("level 1");
    fire_next(&app, ticket, at("2027-01-01T00:00:00Z")).await.expect("level 2");
    resolve(&app.app, ticket, "done").await;
    // A poor rating reopens without escalating ("not fixed" escalates at once: see the
    // notification tests).
    let rating = ClosureRating { quality: Score::new("quality", 1).unwrap(), speed: Score::new("quality", 1).unwrap(), comment: None, not_fixed: false };
    app.app.rate_closure(ticket, "0512345678", rating, Channel::App).await.expect("rate");
    let report = app.app.report(ticket).await.unwrap();
    assert_eq!(report.status, Status::Reopened);
    assert_eq!((report.escalation.round, report.escalation.fired), (1, 0));
    let reopened_at = app.app.now();
    let due = timer(&app.app, ticket).await.expect("a new timer");
    assert!(due > reopened_at, "the resolution clock restarted");
    fire_next(&app, ticket, at("2027-01-01T00:00:00Z")).await.expect("level 1 again");
    assert_eq!(steps(&app.app, ticket).await, [(0, 0, 1), (0, 1, 2), (1, 0, 1)]);
}

#[tokio::test]
async fn waiting_on_the_beneficiary_stops_the_chain_and_resuming_starts_it_later() {
    let app = spawn_app().await;
    let ticket = open(&app, json!({})).await;
    let due = timer(&app.app, ticket).await.expect("timer");
    transition(&app.app, ticket, Command::Assign { department: "cleanliness".into(), team: None, user: None }).await;
    transition(&app.app, ticket, Command::Start).await;
    transition(&app.app, ticket, Command::AwaitCitizen { question: "which container number?".into() }).await;
    assert_eq!(timer(&app.app, ticket).await, None, "paused: nothing can fire");
    app.clock.advance(SignedDuration::from_hours(24 * 3));
    assert_eq!(worker(&app.app, "w").run_once(app.app.now()).await.unwrap(), Outcome::Idle);
    transition(&app.app, ticket, Command::Resume).await;
    let resumed = timer(&app.app, ticket).await.expect("timer again");
    assert!(resumed > due, "the paused days do not count: {resumed} > {due}");
}

#[tokio::test]
async fn a_follow_up_escalates_an_overdue_report_at_once_and_otherwise_tells_the_assignee() {
    let app = spawn_app().await;
    let fresh = open(&app, json!({})).await;
    transition(&app.app, fresh, Command::Assign { department: "cleanliness".into(), team: Some("east".into()), user: Some("cleaner-7".into()) }).await;
    let followed = app.app.follow_up(fresh, "0512345678", Some("still full"), Channel::App).await.unwrap();
    assert!(!followed.escalated);
    assert!(escalations(&app.app, fresh).await.is_empty());
    let outbox = app.app.store.db.outbox(Some(fresh.report_id()), 10).await.unwrap();
    let topics: Vec<(&str, &str)> = outbox.iter().map(|m| (m.topic.as_str(), m.recipient.as_str())).collect();
    assert_eq!(
        topics,
        [("status_changed", "sms:+966512345678"), ("assigned", "user:cleaner-7"), ("follow_up", "user:cleaner-7"), ("follow_up_received", "sms:+966512345678")],
        "the beneficiary hears of the assignment; the assignee of the follow-up"
    );

    // Past due: the follow-up escalates one level at once, on top of what the timers did.
    let overdue = open(&app, json!({})).await;
    let expected = app.app.report(overdue).await.unwrap().expected_at.unwrap();
    app.clock.set(expected + SignedDuration::from_hours(1));
    let followed = app.app.follow_up(overdue, "0512345678", None, Channel::Ivr).await.unwrap();
    assert!(followed.escalated);
    assert_eq!(followed.report.escalation.fired, 1);
    let rows = escalations(&app.app, overdue).await;
    assert_eq!((rows.len(), rows[0].level), (1, 1));
    assert!(rows[0].reason.contains("followed up"));
    // The worker then catches up with the levels already due, each once.
    worker(&app.app, "w").run_once(app.app.now()).await.unwrap();
    assert_eq!(steps(&app.app, overdue).await, [(0, 0, 1), (0, 1, 2)]);
    let measures = app.app.follow_up_measures(&supervisor(), balagh_test_support::start_instant(), app.app.now()).await.unwrap();
    // The first report reached its own 75% mark meanwhile, so both were escalated.
    assert_eq!((measures.counts.reports, measures.counts.followed_up, measures.counts.follow_ups, measures.counts.escalated), (2, 2, 2, 2));
    assert_eq!(measures.followed_up_share, 1.0);
    let roads = Actor { department: Some("roads".into()), ..supervisor() };
    let theirs = app.app.follow_up_measures(&roads, balagh_test_support::start_instant(), app.app.now()).await.unwrap();
    assert_eq!(theirs.counts.reports, 0, "a department's supervisor measures his department");
    let staff = Actor::new(Role::Staff, "s1");
    assert_eq!(app.app.follow_up_measures(&staff, balagh_test_support::start_instant(), app.app.now()).await.unwrap_err().code(), "forbidden");
}

#[tokio::test]
async fn running_the_worker_again_fires_nothing_twice() {
    let app = spawn_app().await;
    let tickets = [open(&app, json!({ "priority": "emergency" })).await, open(&app, json!({ "priority": "emergency" })).await];
    let now = app.app.now();
    assert_eq!(worker(&app.app, "a").run_once(now).await.unwrap(), Outcome::Worked(2));
    assert_eq!(worker(&app.app, "a").run_once(now).await.unwrap(), Outcome::Idle);
    assert_eq!(worker(&app.app, "b").run_once(now).await.unwrap(), Outcome::Idle);
    for ticket in tickets {
        assert_eq!(steps(&app.app, ticket).await, [(0, 0, 1)]);
    }
}

/// Stores `n` open emergency reports due now, quickly, through the intake path.
async fn open_many(app: &TestApp, n: usize) -> Vec<TicketNumber> {
    let mut tickets = Vec::with_capacity(n);
    for _ in 0..n {
        tickets.push(open(app, json!({ "priority": "emergency" })).await);
    }
    tickets
}

#[tokio::test]
async fn two_processes_racing_escalate_each_report_exactly_once() {
    let app = spawn_app().await;
    let tickets = open_many(&app, 120).await;
    let other = app.another_process().await;
    let now = app.app.now();
    let (a, b) = (worker(&app.app, "process-a"), worker(&other, "process-b"));
    let (first, second) = tokio::join!(a.run_once(now), b.run_once(now));
    let fired = |o: Outcome| match o {
        Outcome::Worked(n) => n,
        Outcome::Idle => 0,
    };
    assert_eq!(fired(first.unwrap()) + fired(second.unwrap()), tickets.len(), "every report once between them");
    for ticket in tickets {
        assert_eq!(steps(&app.app, ticket).await, [(0, 0, 1)], "{ticket}");
        assert_eq!(escalations(&app.app, ticket).await.len(), 1);
    }
}

#[tokio::test]
async fn a_worker_that_dies_after_claiming_leaves_its_claims_to_another_when_the_lease_ends() {
    let app = spawn_app().await;
    let ticket = open(&app, json!({ "priority": "emergency" })).await;
    let now = app.app.now();
    let doomed = worker(&app.app, "doomed");
    assert_eq!(doomed.claim(now).await.unwrap(), [ticket.report_id()]);
    // The process dies here, between claim and commit: nothing was fired.
    assert!(escalations(&app.app, ticket).await.is_empty());
    let survivor = worker(&app.app, "survivor");
    assert_eq!(survivor.run_once(now).await.unwrap(), Outcome::Idle, "the claim is leased");
    let later = now + balagh_app::worker::LEASE + SignedDuration::from_secs(1);
    assert_eq!(survivor.run_once(later).await.unwrap(), Outcome::Worked(1));
    // Were the first worker only stalled, its late commit finds the claim gone and fires nothing.
    assert_eq!(app.app.fire_claimed(doomed.owner(), &[ticket.report_id()], later).await.unwrap(), 0);
    assert_eq!(steps(&app.app, ticket).await, [(0, 0, 1)]);
}

#[tokio::test]
async fn a_change_between_claim_and_fire_wins_over_the_claim() {
    let app = spawn_app().await;
    let ticket = open(&app, json!({ "priority": "emergency" })).await;
    let now = app.app.now();
    let slow = worker(&app.app, "slow");
    assert_eq!(slow.claim(now).await.unwrap(), [ticket.report_id()]);
    resolve(&app.app, ticket, "made safe").await;
    assert_eq!(app.app.fire_claimed(slow.owner(), &[ticket.report_id()], now).await.unwrap(), 0);
    assert!(escalations(&app.app, ticket).await.is_empty());
    assert_eq!(timer(&app.app, ticket).await, None);
}

#[tokio::test]
async fn overdue_timers_fire_once_after_a_restart() {
    let app = spawn_app().await;
    let tickets = open_many(&app, 3).await;
    // The process stops before its worker ran; days later a new one starts on the same database.
    app.clock.advance(SignedDuration::from_hours(24 * 3));
    let restarted = app.another_process().await;
    let now = restarted.now();
    assert!(matches!(worker(&restarted, "after-restart").run_once(now).await.unwrap(), Outcome::Worked(_)));
    for ticket in tickets {
        // Immediately, then the breach (long past), then reminders up to now: each step once.
        let steps = steps(&restarted, ticket).await;
        assert_eq!(steps[..2], [(0, 0, 1), (0, 1, 2)]);
        assert!(steps.windows(2).all(|w| w[1].1 == w[0].1 + 1), "{steps:?}");
        let report = restarted.report(ticket).await.unwrap();
        assert_eq!(report.escalation.fired as usize, steps.len());
        assert!(timer(&restarted, ticket).await.expect("next reminder") > now);
    }
    assert_eq!(worker(&restarted, "again").run_once(now).await.unwrap(), Outcome::Idle);
}

#[tokio::test]
async fn the_next_wake_is_the_earliest_due_timer_or_lease_end() {
    let app = spawn_app().await;
    assert_eq!(app.app.store.db.next_timer_wake().await.unwrap(), None, "nothing stored, nothing to wait for");
    let normal = open(&app, json!({})).await;
    let normal_due = timer(&app.app, normal).await.unwrap();
    assert_eq!(app.app.store.db.next_timer_wake().await.unwrap(), Some(normal_due));
    let emergency = open(&app, json!({ "priority": "emergency" })).await;
    let now = app.app.now();
    assert_eq!(app.app.store.db.next_timer_wake().await.unwrap(), Some(now));
    worker(&app.app, "w").claim(now).await.unwrap();
    assert_eq!(
        app.app.store.db.next_timer_wake().await.unwrap(),
        Some(now + balagh_app::worker::LEASE),
        "a claimed timer is looked at again when its lease ends"
    );
    let _ = emergency;
}

#[tokio::test]
async fn a_timer_earlier_than_the_workers_wake_wakes_it_and_a_later_one_does_not() {
    use futures::FutureExt;
    let signal = balagh_app::TimerSignal::default();
    let wake = at("2026-03-01T10:00:00Z");
    signal.sleeping_until(Some(wake));
    signal.timer_set(wake + SignedDuration::from_secs(1));
    assert!(signal.notified().now_or_never().is_none(), "a later timer lets the worker sleep");
    signal.timer_set(wake - SignedDuration::from_secs(1));
    assert!(signal.notified().now_or_never().is_some(), "an earlier timer wakes it");
    signal.sleeping_until(None);
    signal.timer_set(wake + SignedDuration::from_hours(1000));
    assert!(signal.notified().now_or_never().is_some(), "a worker with nothing to wait for wakes for any timer");
}

#[tokio::test]
async fn escalation_is_not_activity_and_progress_is_stored_with_the_report() {
    let app = spawn_app().await;
    let ticket = open(&app, json!({ "priority": "emergency" })).await;
    let before = app.app.report(ticket).await.unwrap();
    app.clock.advance(SignedDuration::from_mins(5));
    worker(&app.app, "w").run_once(app.app.now()).await.unwrap();
    let after = app.app.report(ticket).await.unwrap();
    assert_eq!(after.updated_at, before.updated_at);
    assert_eq!(after.escalation, Progress { round: 0, fired: 1, last_at: Some(app.app.now()), flagged: true });
    let id: ReportId = ticket.report_id();
    assert_eq!(app.app.report_by_id(id).await.unwrap().escalation.fired, 1);
}

/// What a refused follow-up must leave as it was.
async fn footprint(app: &App, ticket: TicketNumber) -> (balagh_domain::Report, usize, usize, usize, Option<Timestamp>) {
    let report = app.report(ticket).await.unwrap();
    let timeline = app.timeline(ticket, &supervisor()).await.unwrap().len();
    let outbox = app.store.db.outbox(Some(ticket.report_id()), 1000).await.unwrap().len();
    let escalated = escalations(app, ticket).await.len();
    (report, timeline, outbox, escalated, timer(app, ticket).await)
}

#[tokio::test]
async fn bad_follow_ups_get_a_clear_answer_and_change_nothing() {
    let app = spawn_app().await;
    let ticket = open(&app, json!({})).await;
    let expected = app.app.report(ticket).await.unwrap().expected_at.unwrap();
    app.clock.set(expected + SignedDuration::from_hours(1));
    let before = footprint(&app.app, ticket).await;
    let refused = |result: Result<balagh_app::reports::FollowedUp, balagh_app::AppError>| result.expect_err("refused").code();
    assert_eq!(refused(app.app.follow_up(ticket, "0555555555", None, Channel::App).await), "phone_mismatch");
    assert_eq!(refused(app.app.follow_up(ticket, "not a phone", None, Channel::App).await), "invalid_phone");
    let unknown = ReportId(9_999_999).ticket();
    assert_eq!(refused(app.app.follow_up(unknown, "0512345678", None, Channel::App).await), "not_found");
    assert_eq!(footprint(&app.app, ticket).await, before, "an overdue report is not escalated by a refused follow-up");

    resolve(&app.app, ticket, "emptied").await;
    let rating = ClosureRating { quality: Score::new("quality", 5).unwrap(), speed: Score::new("speed", 4).unwrap(), comment: None, not_fixed: false };
    app.app.rate_closure(ticket, "0512345678", rating, Channel::App).await.expect("rate");
    assert_eq!(app.app.report(ticket).await.unwrap().status, Status::Closed);
    let closed = footprint(&app.app, ticket).await;
    assert_eq!(refused(app.app.follow_up(ticket, "0512345678", Some("again"), Channel::App).await), "report_closed");
    assert_eq!(footprint(&app.app, ticket).await, closed);
}

const USER_CHAIN: &str = r#"
follow_up_idle_hours = 1

[[chains]]
name = "default"
reminder_interval_hours = 2
levels = [
  { trigger = "no activity 1h", targets = ["user:lead-1", "team:rapid"], actions = ["notify", "reassign", "flag"] },
  { trigger = "breach", targets = ["deputy_for_services"], actions = ["raise_priority"] },
]
"#;

#[tokio::test]
async fn a_level_can_reassign_to_a_person_who_then_finds_it_escalated_to_him() {
    let app = balagh_test_support::spawn_app_with_chains(USER_CHAIN).await;
    let ticket = open(&app, json!({})).await;
    // Activity resets the "no activity" trigger: a comment half an hour in moves it.
    let opened = app.app.now();
    app.clock.advance(SignedDuration::from_mins(30));
    app.app.comment(ticket, "container reported to the contractor", false, &supervisor(), Channel::Web).await.unwrap();
    assert_eq!(timer(&app.app, ticket).await, Some(opened + SignedDuration::from_mins(90)));
    fire_next(&app, ticket, at("2027-01-01T00:00:00Z")).await.expect("level 1");
    let report = app.app.report(ticket).await.unwrap();
    assert_eq!((report.assignment.user.as_deref(), report.assignment.team.as_deref()), (Some("lead-1"), Some("rapid")));
    assert!(report.escalation.flagged);
    let recipients: Vec<String> = app.app.store.db.outbox(Some(ticket.report_id()), 10).await.unwrap().into_iter().map(|m| m.recipient).collect();
    assert_eq!(recipients, ["user:lead-1", "team:rapid@cleanliness"]);

    let key = app.api_key_named("lead-1", Role::Staff, Some("cleanliness")).await;
    let mine: Value = app.client.get(app.url("/api/v1/escalations?mine=true")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
    let rows = mine["escalations"].as_array().expect("a list");
    assert_eq!(rows.len(), 1, "{mine}");
    assert_eq!(rows[0]["target"], "user:lead-1");
    let id = rows[0]["id"].as_i64().unwrap();
    let acknowledged = app.client.post(app.url(&format!("/api/v1/escalations/{id}/acknowledge"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(acknowledged.status(), 200);

    // A level without `notify` acts but sends nothing.
    fire_next(&app, ticket, at("2027-01-01T00:00:00Z")).await.expect("level 2");
    assert_eq!(app.app.report(ticket).await.unwrap().priority, Priority::High);
    let outbox = app.app.store.db.outbox(Some(ticket.report_id()), 10).await.unwrap();
    let topics: Vec<&str> = outbox.iter().map(|m| m.topic.as_str()).collect();
    assert_eq!(topics, ["escalation", "escalation", "escalated"], "staff hear of the notifying levels; the beneficiary of the overdue report's level 2");
}

#[tokio::test]
async fn a_worker_killed_at_any_point_of_its_commit_leaves_each_step_fired_exactly_once() {
    let app = spawn_app().await;
    let tickets = open_many(&app, 12).await;
    let now = app.app.now();
    let doomed = worker(&app.app, "doomed");
    assert_eq!(doomed.claim(now).await.unwrap().len(), tickets.len());
    for (i, ticket) in tickets.iter().enumerate() {
        // Kill the firing task after a different number of steps each time: before it starts,
        // in the middle of its transaction, or after it committed.
        let (app_for_task, owner, id) = (app.app.clone(), doomed.owner().to_owned(), ticket.report_id());
        let task = tokio::spawn(async move { app_for_task.fire_claimed(&owner, &[id], now).await });
        for _ in 0..i * 3 {
            tokio::task::yield_now().await;
        }
        task.abort();
        let _ = task.await;
    }
    let later = now + balagh_app::worker::LEASE + SignedDuration::from_secs(1);
    worker(&app.app, "survivor").run_once(later).await.unwrap();
    for ticket in tickets {
        assert_eq!(steps(&app.app, ticket).await[..1], [(0, 0, 1)], "{ticket}");
        assert_eq!(escalations(&app.app, ticket).await.iter().filter(|e| e.step == 0).count(), 1, "{ticket}");
    }
}
