//! Whole IVR calls through the signed webhooks, played by a caller that behaves like a
//! Twilio-compatible provider: new reports in Arabic and English read back by ticket, status and
//! follow-up by ticket number, the post-call survey, bad input at every menu, replays, forged
//! requests, and the same flow rendered as VoiceXML.

use balagh_app::OutboxFilter;
use balagh_domain::TicketNumber;
use balagh_domain::event::{Actor, EventKind, Role};
use balagh_domain::vocabulary::Channel;
use balagh_fakes::caller::{Caller, CallerError, CallerOptions, Waiting};
use balagh_ivr::{City, IvrSettings};
use balagh_notify::twilio::{SIGNATURE_HEADER, signature};
use balagh_test_support::{TWILIO_AUTH_TOKEN, TestApp, report_body, spawn_app_for_ivr};
use balagh_voice::markup::Markup;

const CALLER: &str = "+966551234567";

fn cities() -> Vec<City> {
    let district = |i: usize| (format!("حي {i}"), format!("District {i}"));
    vec![
        City { name_ar: "الدمام".into(), name_en: "Dammam".into(), districts: (1..=9).map(district).collect() },
        City { name_ar: "الخبر".into(), name_en: "Al Khobar".into(), districts: vec![("العليا".into(), "Al Ulaya".into())] },
    ]
}

fn settings(markup: Markup) -> IvrSettings {
    IvrSettings { markup, cities: cities(), ..IvrSettings::default() }
}

async fn server() -> TestApp {
    spawn_app_for_ivr(settings(Markup::Twiml)).await
}

fn options(app: &TestApp, markup: Markup) -> CallerOptions {
    let mut options = CallerOptions::new(app.url("/ivr/voice"), TWILIO_AUTH_TOKEN);
    options.markup = markup;
    options.from = CALLER.to_owned();
    options
}

async fn dial(app: &TestApp) -> Caller {
    Caller::dial(options(app, Markup::Twiml)).await.expect("the call is answered")
}

/// The key a menu line offers for `name` ("For Street Lighting, press 3."): the last ASCII digit.
fn key_for(caller: &Caller, name: &str) -> String {
    let line = caller.heard().iter().find(|line| line.contains(name)).unwrap_or_else(|| panic!("no menu line names '{name}' in {:?}", caller.heard()));
    line.chars().rev().find(char::is_ascii_digit).map(String::from).unwrap_or_else(|| panic!("no key in '{line}'"))
}

fn heard_all(caller: &Caller) -> String {
    caller.heard().join(" | ")
}

/// Every report on the server, as a supervisor lists them.
async fn all_reports(app: &TestApp) -> Vec<balagh_domain::report::Report> {
    app.app.list_reports(balagh_app::ReportQuery { limit: 1000, ..Default::default() }, &staff()).await.unwrap()
}

fn staff() -> Actor {
    Actor { role: Role::Supervisor, id: Some("s1".into()), department: None, position: None }
}

/// Answers the service's details: a number (two poles) or the first choice of a list.
async fn answer_details(caller: &mut Caller) {
    for _ in 0..5 {
        let said = heard_all(caller);
        if said.contains("Enter the number") || said.contains("أدخل العدد") {
            caller.press("2#").await.unwrap();
        } else if said.contains("One more detail") || said.contains("تفصيل إضافي") {
            caller.press("1").await.unwrap();
        } else {
            return;
        }
    }
}

/// Goes from the main menu through a new street-lighting report in Dammam, district 9 (on the
/// second page), up to the confirmation.
async fn new_report_until_confirm(caller: &mut Caller, english: bool, transcription: Option<&str>) {
    let (group, service, city, district) = if english {
        ("Street Lighting", "Street light not working", "Dammam", "District 9")
    } else {
        ("الإنارة", "إنارة معطلة", "الدمام", "حي 9")
    };
    caller.press("1").await.unwrap();
    caller.press(&key_for(caller, group)).await.unwrap();
    let service_line = caller.heard().iter().find(|l| l.contains(service)).cloned();
    assert!(service_line.is_some(), "services heard: {}", heard_all(caller));
    caller.press(&key_for(caller, service)).await.unwrap();
    answer_details(caller).await;
    assert!(heard_all(caller).contains(if english { "city and district from a list, press 1" } else { "لاختيار المدينة والحي" }), "{}", heard_all(caller));
    caller.press("1").await.unwrap();
    caller.press(&key_for(caller, city)).await.unwrap();
    assert!(!heard_all(caller).contains(district), "district 9 is on the second page");
    caller.press("8").await.unwrap();
    caller.press(&key_for(caller, district)).await.unwrap();
    assert_eq!(caller.waiting(), Waiting::Recording, "{}", heard_all(caller));
    caller.record(14, transcription).await.unwrap();
    caller.press("1").await.unwrap();
    assert!(heard_all(caller).contains(if english { "To submit it, press 1" } else { "لإرساله" }), "{}", heard_all(caller));
}

#[tokio::test]
async fn a_caller_opens_a_report_in_arabic_and_hears_its_ticket_twice() {
    let app = server().await;
    let mut caller = dial(&app).await;
    assert!(heard_all(&caller).contains("مرحبًا"), "Arabic welcome first: {}", heard_all(&caller));
    assert!(heard_all(&caller).contains("For English, press 2"), "each language announced in its own language: {}", heard_all(&caller));
    caller.press("1").await.unwrap();
    assert!(heard_all(&caller).contains("لتقديم بلاغ جديد"));
    new_report_until_confirm(&mut caller, false, Some("عمود الإنارة مطفأ أمام المسجد منذ أسبوع")).await;
    caller.press("1").await.unwrap();

    let ticket = TicketNumber::parse(caller.ticket().expect("the step that opened the report names its ticket")).unwrap();
    let spoken = balagh_i18n::digits_spoken(&ticket.to_string(), "ar");
    let said = heard_all(&caller);
    assert_eq!(said.matches(&spoken).count(), 2, "the ticket is read digit by digit, twice: {said}");
    assert!(said.contains("رسالة نصية"), "an SMS is announced: {said}");

    let report = app.app.report(ticket).await.unwrap();
    assert_eq!(report.channel, Channel::Ivr);
    assert_eq!(report.service_code, "broken-streetlight");
    assert_eq!(report.location.city.as_deref(), Some("الدمام"));
    assert_eq!(report.location.district.as_deref(), Some("حي 9"));
    assert_eq!(report.contact.phone.as_ref().map(|p| p.as_str()), Some(CALLER));
    assert_eq!(report.contact.language.as_str(), "ar");
    assert_eq!(report.description.as_str(), "عمود الإنارة مطفأ أمام المسجد منذ أسبوع", "a transcription before confirmation is kept for the report");
    assert!(report.media.iter().any(|m| m.starts_with("media:recording:https://api.twilio.com/")), "{:?}", report.media);
    let received = app.app.store.db.outbox_rows(&OutboxFilter { report: Some(report.id), limit: 100, ..OutboxFilter::default() }).await.unwrap();
    assert!(received.iter().any(|row| row.topic == "received" && row.recipient == format!("sms:{CALLER}")), "{received:?}");

    // No key at the last menu: goodbye, and the call is on the report's timeline.
    caller.press("").await.unwrap();
    assert!(caller.ended());
    caller.hang_up().await.unwrap();
    let timeline = app.app.timeline(ticket, &staff()).await.unwrap();
    let call = timeline.iter().find_map(|e| match &e.event.kind {
        EventKind::IvrCall { path, duration_seconds, .. } => Some((path.clone(), *duration_seconds)),
        _ => None,
    });
    let (path, duration) = call.expect("the call is an interaction on the timeline");
    assert_eq!(path, ["language", "main", "group", "service", "details", "place", "city", "district", "record", "callback", "confirm", "done"]);
    assert!(duration.is_some());
    assert_eq!(timeline.iter().filter(|e| matches!(e.event.kind, EventKind::IvrCall { .. })).count(), 1, "ended once");
}

#[tokio::test]
async fn a_caller_opens_a_report_in_english_and_the_later_transcription_becomes_its_description() {
    let app = server().await;
    let mut caller = dial(&app).await;
    caller.press("2").await.unwrap();
    assert!(heard_all(&caller).contains("To open a new report, press 1"), "{}", heard_all(&caller));
    new_report_until_confirm(&mut caller, true, None).await;
    caller.press("1").await.unwrap();
    let ticket = TicketNumber::parse(caller.ticket().unwrap()).unwrap();
    let said = heard_all(&caller);
    assert_eq!(said.matches(&balagh_i18n::digits_spoken(&ticket.to_string(), "en")).count(), 2, "{said}");
    assert_eq!(app.app.report(ticket).await.unwrap().description.as_str(), "");

    // The provider transcribes later, as Twilio does; the recording must be this call's.
    let recording = app.app.report(ticket).await.unwrap().media[0].trim_start_matches("media:recording:").to_owned();
    let transcription = app.url("/ivr/transcription");
    let foreign = caller
        .post(&transcription, &[("RecordingUrl", "https://evil.example/r.wav"), ("TranscriptionStatus", "completed"), ("TranscriptionText", "x")])
        .await
        .unwrap();
    assert_eq!(foreign.0, 422, "{}", foreign.1);
    let (status, _) = caller
        .post(
            &transcription,
            &[("RecordingUrl", &recording), ("TranscriptionStatus", "completed"), ("TranscriptionText", "The lamp post by the mosque is dark")],
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
    let report = app.app.report(ticket).await.unwrap();
    assert_eq!(report.description.as_str(), "The lamp post by the mosque is dark");
    assert_eq!(report.contact.language.as_str(), "en");
    let (status, _) =
        caller.post(&transcription, &[("RecordingUrl", &recording), ("TranscriptionStatus", "completed"), ("TranscriptionText", "again")]).await.unwrap();
    assert_eq!(status, 200, "a replayed transcription keeps the description");
    assert_eq!(app.app.report(ticket).await.unwrap().description.as_str(), "The lamp post by the mosque is dark");
}

/// Opens a report through the API with the caller's phone.
async fn report_of_caller(app: &TestApp) -> TicketNumber {
    let mut body = report_body();
    body["phone"] = CALLER.into();
    let response = app.post_report(&body).await;
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    TicketNumber::parse(created["ticket"].as_str().unwrap()).unwrap()
}

/// A ticket with a wrong check digit.
fn mistyped(ticket: TicketNumber) -> String {
    let digits = ticket.to_string();
    let last = digits.chars().last().and_then(|c| c.to_digit(10)).unwrap();
    format!("{}{}", &digits[..digits.len() - 1], (last + 1) % 10)
}

#[tokio::test]
async fn a_caller_hears_a_status_by_ticket_number_and_follows_it_up() {
    let app = server().await;
    let ticket = report_of_caller(&app).await;
    app.app.comment(ticket, "Crew scheduled for Sunday", true, &staff(), Channel::Web).await.unwrap();
    let mut caller = dial(&app).await;
    caller.press("2").await.unwrap();
    caller.press("2").await.unwrap();
    caller.press(&format!("{}#", mistyped(ticket))).await.unwrap();
    assert!(heard_all(&caller).contains("is not a valid report number"), "{}", heard_all(&caller));
    caller.press(&format!("{ticket}#")).await.unwrap();
    let said = heard_all(&caller);
    assert!(said.contains(&balagh_i18n::digits_spoken(&ticket.to_string(), "en")), "{said}");
    assert!(said.contains("Its status is"), "{said}");
    assert!(said.contains("Crew scheduled for Sunday"), "the last public update: {said}");
    assert!(said.contains("expected to be completed by"), "{said}");
    caller.press("1").await.unwrap();
    assert!(heard_all(&caller).contains("Your follow-up has been recorded"), "{}", heard_all(&caller));
    assert_eq!(app.app.report(ticket).await.unwrap().n_follow_ups, 1);

    // Follow-up from the main menu, right away: the same domain command says it is too soon.
    caller.press("1").await.unwrap();
    caller.press("3").await.unwrap();
    caller.press(&format!("{ticket}#")).await.unwrap();
    assert!(heard_all(&caller).contains("You followed up on this report recently"), "{}", heard_all(&caller));
    assert_eq!(app.app.report(ticket).await.unwrap().n_follow_ups, 1);
}

#[tokio::test]
async fn a_follow_up_from_another_phone_is_not_recorded_and_the_caller_is_put_through() {
    let app = server().await;
    let ticket = report_of_caller(&app).await;
    let mut options = options(&app, Markup::Twiml);
    options.from = "+966509999999".into();
    let mut caller = Caller::dial(options).await.unwrap();
    caller.press("2").await.unwrap();
    caller.press("3").await.unwrap();
    caller.press(&format!("{ticket}#")).await.unwrap();
    assert!(heard_all(&caller).contains("could not match your phone number"), "{}", heard_all(&caller));
    assert_eq!(caller.waiting(), Waiting::Agent);
    assert_eq!(app.app.report(ticket).await.unwrap().n_follow_ups, 0);
}

#[tokio::test]
async fn the_post_call_survey_rates_the_agent_and_the_answer_on_the_call_and_its_report() {
    let app = server().await;
    let ticket = report_of_caller(&app).await;
    let mut caller = dial(&app).await;
    caller.press("2").await.unwrap();
    caller.press("2").await.unwrap();
    caller.press(&format!("{ticket}#")).await.unwrap();
    caller.press("0").await.unwrap();
    assert_eq!(caller.waiting(), Waiting::Agent);
    assert!(heard_all(&caller).contains("Please hold"), "{}", heard_all(&caller));
    caller.agent_hangs_up().await.unwrap();
    assert!(heard_all(&caller).contains("rate the agent's service"), "{}", heard_all(&caller));
    caller.press("6").await.unwrap();
    assert!(heard_all(&caller).contains("not a valid choice"), "a score out of range is asked again");
    caller.press("4").await.unwrap();
    caller.press("5").await.unwrap();
    assert!(heard_all(&caller).contains("Thank you for your rating"));
    assert!(caller.ended());

    let call = app.app.ivr_call(caller.call_sid()).await.unwrap().unwrap();
    assert_eq!((call.agent_service, call.answer_quality), (Some(4), Some(5)));
    assert!(call.ended_at.is_some());
    let timeline = app.app.timeline(ticket, &staff()).await.unwrap();
    let rated = timeline.iter().find_map(|e| match &e.event.kind {
        EventKind::InteractionRated { rating } => Some((rating.agent_service.value(), rating.answer_quality.value(), e.event.channel)),
        _ => None,
    });
    assert_eq!(rated, Some((4, 5, Channel::Ivr)));
    let interaction = timeline.iter().find_map(|e| match &e.event.kind {
        EventKind::IvrCall { agent_service, answer_quality, path, .. } => Some((*agent_service, *answer_quality, path.clone())),
        _ => None,
    });
    let (agent, answer, path) = interaction.unwrap();
    assert_eq!((agent, answer), (Some(4), Some(5)));
    assert!(path.contains(&"agent".to_owned()) && path.contains(&"survey".to_owned()), "{path:?}");
}

#[tokio::test]
async fn a_caller_hears_answers_to_common_questions() {
    let app = server().await;
    let mut caller = dial(&app).await;
    caller.press("2").await.unwrap();
    caller.press("4").await.unwrap();
    caller.press("1").await.unwrap();
    assert!(heard_all(&caller).contains("twenty-four hours"), "{}", heard_all(&caller));
    caller.press("3").await.unwrap();
    assert!(heard_all(&caller).contains("In an emergency"), "{}", heard_all(&caller));
    caller.press("9").await.unwrap();
    assert!(heard_all(&caller).contains("To open a new report, press 1"));
}

/// Presses `keys` until the caller is put through to an agent, checking that each menu said why.
async fn invalid_until_agent(caller: &mut Caller, keys: &str) {
    for attempt in 1..=3 {
        assert_eq!(caller.waiting(), Waiting::Keys, "attempt {attempt}: {}", heard_all(caller));
        caller.press(keys).await.unwrap();
    }
    assert_eq!(caller.waiting(), Waiting::Agent, "after three bad answers the caller is put through: {}", heard_all(caller));
    assert!(heard_all(caller).contains("We could not understand your choice"), "{}", heard_all(caller));
}

#[tokio::test]
async fn bad_keys_at_every_menu_are_asked_again_then_put_through_and_nothing_half_done_is_saved() {
    let app = server().await;
    // Main menu, with a key it does not offer, then with no key at all.
    let mut caller = dial(&app).await;
    caller.press("2").await.unwrap();
    invalid_until_agent(&mut caller, "7").await;
    let mut caller = dial(&app).await;
    caller.press("2").await.unwrap();
    invalid_until_agent(&mut caller, "").await;
    // The language menu takes a key it does not offer as a mistake, and no key as Arabic.
    let mut caller = dial(&app).await;
    caller.press("5").await.unwrap();
    assert!(heard_all(&caller).contains("غير صحيح"), "{}", heard_all(&caller));
    caller.press("").await.unwrap();
    assert!(heard_all(&caller).contains("لتقديم بلاغ جديد"), "Arabic by default: {}", heard_all(&caller));
    // Each menu of a new report; the last one reached after the recording.
    for depth in 0..7 {
        let mut caller = dial(&app).await;
        caller.press("2").await.unwrap();
        caller.press("1").await.unwrap();
        for level in 0..depth.min(5) {
            caller.press("1").await.unwrap();
            if level == 1 {
                answer_details(&mut caller).await;
            }
        }
        if depth >= 5 {
            assert_eq!(caller.waiting(), Waiting::Recording);
            if depth == 5 {
                // Keys where a recording was asked for, then silence: asked again, then an agent.
                let step = app.app.ivr_call(caller.call_sid()).await.unwrap().unwrap().step;
                caller.post(&app.url(&format!("/ivr/step/{step}")), &[("Digits", "5")]).await.unwrap();
                for _ in 0..2 {
                    caller.record(0, None).await.unwrap();
                }
                let call = app.app.ivr_call(caller.call_sid()).await.unwrap().unwrap();
                assert!(call.path.ends_with("record"), "{}", call.path);
                continue;
            }
            caller.record(5, None).await.unwrap();
            invalid_until_agent(&mut caller, "5").await;
            continue;
        }
        invalid_until_agent(&mut caller, "*").await;
    }
    // A callback number that is not a mobile number, and a ticket number that is not one.
    let mut caller = dial(&app).await;
    caller.press("2").await.unwrap();
    for level in 0..6 {
        caller.press("1").await.unwrap();
        if level == 2 {
            answer_details(&mut caller).await;
        }
    }
    caller.record(5, None).await.unwrap();
    caller.press("2").await.unwrap();
    caller.press("12345#").await.unwrap();
    assert!(heard_all(&caller).contains("not a valid mobile number"), "{}", heard_all(&caller));
    caller.press("0551112222#").await.unwrap();
    assert!(heard_all(&caller).contains("To submit it, press 1"), "{}", heard_all(&caller));
    caller.press("").await.unwrap();
    caller.hang_up().await.unwrap();
    let mut caller = dial(&app).await;
    caller.press("2").await.unwrap();
    caller.press("2").await.unwrap();
    invalid_until_agent(&mut caller, "99999#").await;

    let reports = all_reports(&app).await;
    assert!(reports.is_empty(), "no call confirmed a report: {reports:?}");
}

/// Signs and posts one raw provider request.
async fn signed(app: &TestApp, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    let url = app.url(path);
    let params: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let response = reqwest::Client::new().post(&url).header(SIGNATURE_HEADER, signature(TWILIO_AUTH_TOKEN, &url, &params)).form(&params).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn replays_out_of_order_steps_and_unknown_or_forged_requests_change_nothing() {
    let app = server().await;
    let sid = "CA0123456789abcdef0123456789abcdef";
    let incoming = [("CallSid", sid), ("From", CALLER), ("To", "940"), ("CallStatus", "ringing")];
    let first = signed(&app, "/ivr/voice", &incoming).await;
    assert_eq!(first.0, 200);
    assert_eq!(signed(&app, "/ivr/voice", &incoming).await, first, "a retried incoming call is answered the same");
    let english = signed(&app, "/ivr/step/1", &[("CallSid", sid), ("Digits", "2")]).await;
    assert_eq!(english.0, 200);
    assert!(english.1.contains("/ivr/step/2"), "{}", english.1);
    assert_eq!(signed(&app, "/ivr/step/1", &[("CallSid", sid), ("Digits", "2")]).await, english, "a replayed step is answered the same");
    let stale = signed(&app, "/ivr/step/1", &[("CallSid", sid), ("Digits", "1")]).await;
    assert_eq!(stale.0, 200);
    assert!(stale.1.contains("To open a new report") && stale.1.contains("/ivr/step/2"), "a stale step hears the current prompt: {}", stale.1);
    let early = signed(&app, "/ivr/step/9", &[("CallSid", sid), ("Digits", "1")]).await;
    assert_eq!(early.0, 200);
    assert!(early.1.contains("/ivr/step/2"), "an early step hears the current prompt: {}", early.1);
    let call = app.app.ivr_call(sid).await.unwrap().unwrap();
    assert_eq!((call.step, call.language.as_str(), call.path.as_str()), (2, "en", "language>main"));

    let check = |(status, body): (u16, String), expected: u16, words: &str| {
        assert_eq!(status, expected, "{body}");
        assert!(body.contains(words), "'{words}' in {body}");
    };
    check(signed(&app, "/ivr/step/2", &[("CallSid", "CAunknown"), ("Digits", "1")]).await, 404, "is not known");
    check(signed(&app, "/ivr/step/2", &[("Digits", "1")]).await, 400, "CallSid");
    check(signed(&app, "/ivr/step/2", &[("CallSid", "CA<script>"), ("Digits", "1")]).await, 400, "CallSid must be");
    check(signed(&app, "/ivr/step/2", &[("CallSid", sid), ("Digits", "1; drop")]).await, 400, "Digits must be");
    check(signed(&app, "/ivr/step/two", &[("CallSid", sid), ("Digits", "1")]).await, 404, "step 'two'");
    check(
        signed(&app, "/ivr/step/2", &[("CallSid", sid), ("RecordingUrl", "https://evil.example/a.wav"), ("RecordingDuration", "3")]).await,
        422,
        "not a recording",
    );
    check(
        signed(&app, "/ivr/step/2", &[("CallSid", sid), ("RecordingUrl", "https://api.twilio.com/r"), ("RecordingDuration", "long")]).await,
        400,
        "RecordingDuration",
    );
    check(signed(&app, "/ivr/status", &[("CallSid", sid)]).await, 400, "CallStatus");
    check(
        signed(&app, "/ivr/transcription", &[("CallSid", sid), ("RecordingUrl", "https://api.twilio.com/r"), ("TranscriptionText", "x")]).await,
        422,
        "not the recording",
    );

    // Unsigned, forged, or signed for another address: refused.
    let url = app.url("/ivr/step/2");
    let form = [("CallSid", sid), ("Digits", "1")];
    let client = reqwest::Client::new();
    let unsigned = client.post(&url).form(&form).send().await.unwrap();
    assert_eq!(unsigned.status(), 403);
    let forged = client.post(&url).header(SIGNATURE_HEADER, "bm90IGEgc2lnbmF0dXJl").form(&form).send().await.unwrap();
    assert_eq!(forged.status(), 403);
    let params: Vec<(String, String)> = form.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let elsewhere = client
        .post(&url)
        .header(SIGNATURE_HEADER, signature(TWILIO_AUTH_TOKEN, "https://elsewhere.example/ivr/step/2", &params))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 403);
    let json = client
        .post(&url)
        .header(SIGNATURE_HEADER, signature(TWILIO_AUTH_TOKEN, &url, &[]))
        .body("{\"CallSid\":1}")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 415);
    let call_after = app.app.ivr_call(sid).await.unwrap().unwrap();
    assert_eq!(call_after, call, "nothing changed");

    // The call ends without a report: a transcription for it is refused, and steps too.
    check(signed(&app, "/ivr/status", &[("CallSid", sid), ("CallStatus", "completed"), ("CallDuration", "31")]).await, 204, "");
    let ended = app.app.ivr_call(sid).await.unwrap().unwrap();
    assert_eq!(ended.duration_seconds, Some(31));
    check(signed(&app, "/ivr/step/2", &[("CallSid", sid), ("Digits", "1")]).await, 409, "has ended");
    assert!(all_reports(&app).await.is_empty());
}

#[tokio::test]
async fn a_caller_in_voicexml_opens_the_same_report_hearing_the_same_words() {
    let twiml = server().await;
    let voicexml = spawn_app_for_ivr(settings(Markup::VoiceXml)).await;
    let mut transcripts = Vec::new();
    for (app, markup) in [(&twiml, Markup::Twiml), (&voicexml, Markup::VoiceXml)] {
        let mut caller = Caller::dial(options(app, markup)).await.unwrap();
        caller.press("2").await.unwrap();
        new_report_until_confirm(&mut caller, true, Some("Dark street")).await;
        caller.press("1").await.unwrap();
        caller.press("").await.unwrap();
        assert!(caller.ended());
        let ticket = TicketNumber::parse(caller.ticket().unwrap()).unwrap();
        // VoiceXML platforms do not transcribe: only the TwiML provider's transcription arrives.
        let description = if markup == Markup::Twiml { "Dark street" } else { "" };
        assert_eq!(app.app.report(ticket).await.unwrap().description.as_str(), description);
        transcripts.push((caller.transcript().to_vec(), ticket));
    }
    assert_eq!(transcripts[0], transcripts[1], "both renderings say the same and open the same report");
}

#[tokio::test]
async fn every_document_of_a_call_is_well_formed_and_equivalent_in_twiml_and_voicexml() {
    let twiml = server().await;
    let voicexml = spawn_app_for_ivr(settings(Markup::VoiceXml)).await;
    let sid = "CAfeedfacefeedfacefeedfacefeedface";
    let steps: [(&str, &[(&str, &str)]); 6] = [
        ("/ivr/voice", &[("From", CALLER)]),
        ("/ivr/step/1", &[("Digits", "1")]),
        ("/ivr/step/2", &[("Digits", "1")]),
        ("/ivr/step/3", &[("Digits", "8")]),
        ("/ivr/step/4", &[("Digits", "9")]),
        ("/ivr/step/5", &[("Digits", "0")]),
    ];
    for (path, extra) in steps {
        let mut params = vec![("CallSid", sid)];
        params.extend_from_slice(extra);
        let (status_t, body_t) = signed(&twiml, path, &params).await;
        let (status_v, body_v) = signed(&voicexml, path, &params).await;
        assert_eq!((status_t, status_v), (200, 200), "{path}: {body_t} {body_v}");
        assert!(body_v.contains("<vxml version=\"2.1\" xmlns=\"http://www.w3.org/2001/vxml\""), "{body_v}");
        let from_twiml = Markup::Twiml.parse(&body_t.replace(&twiml.address, "BASE")).unwrap_or_else(|e| panic!("{path} TwiML: {e}\n{body_t}"));
        let from_voicexml = Markup::VoiceXml.parse(&body_v.replace(&voicexml.address, "BASE")).unwrap_or_else(|e| panic!("{path} VoiceXML: {e}\n{body_v}"));
        assert_eq!(from_twiml.portable(), from_voicexml.portable(), "{path}");
        assert!(from_voicexml.session.iter().any(|(name, value)| name == "CallSid" && value == sid), "{:?}", from_voicexml.session);
    }
}

#[tokio::test]
async fn unknown_calls_get_clear_errors_from_every_endpoint() {
    let app = server().await;
    for path in ["/ivr/status", "/ivr/transcription"] {
        let (status, body) = signed(&app, path, &[("CallSid", "CAnothere"), ("CallStatus", "completed"), ("RecordingUrl", "https://api.twilio.com/r")]).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body.contains("is not known"), "{body}");
    }
    let caller = Caller::dial(options(&app, Markup::Twiml)).await;
    assert!(caller.is_ok());
    let wrong_token = CallerOptions { auth_token: "not-the-token".into(), ..options(&app, Markup::Twiml) };
    match Caller::dial(wrong_token).await {
        Err(CallerError::Http { status, .. }) => assert_eq!(status, 403),
        other => panic!("a forged call must be refused, got {:?}", other.map(|c| c.call_sid().to_owned())),
    }
}

#[tokio::test]
async fn concurrent_calls_each_open_their_own_report() {
    let app = server().await;
    let calls = (0..12).map(|i| {
        let mut options = options(&app, Markup::Twiml);
        options.from = format!("+9665512300{i:02}");
        async move {
            let mut caller = Caller::dial(options).await.unwrap();
            caller.press("2").await.unwrap();
            new_report_until_confirm(&mut caller, true, Some("Concurrent")).await;
            caller.press("1").await.unwrap();
            caller.press("").await.unwrap();
            caller.hang_up().await.unwrap();
            caller.ticket().map(str::to_owned).expect("a ticket")
        }
    });
    let mut tickets = futures::future::join_all(calls).await;
    tickets.sort();
    tickets.dedup();
    assert_eq!(tickets.len(), 12);
    assert_eq!(all_reports(&app).await.len(), 12);
}

/// Goes from the main menu through a new street-lighting report whose place the caller will mark
/// on a map from a text message's link, up to the confirmation.
async fn new_report_by_link_until_confirm(caller: &mut Caller, english: bool) {
    let (group, service) = if english { ("Street Lighting", "Street light not working") } else { ("الإنارة", "إنارة معطلة") };
    caller.press("1").await.unwrap();
    caller.press(&key_for(caller, group)).await.unwrap();
    caller.press(&key_for(caller, service)).await.unwrap();
    answer_details(caller).await;
    assert!(
        heard_all(caller).contains(if english {
            "mark the place on a map, press 2"
        } else {
            "تحدد فيه الموقع على الخريطة، اضغط ٢"
        }),
        "{}",
        heard_all(caller)
    );
    caller.press("2").await.unwrap();
    assert_eq!(caller.waiting(), Waiting::Recording, "{}", heard_all(caller));
    caller.record(11, None).await.unwrap();
    caller.press("1").await.unwrap();
    assert!(heard_all(caller).contains(if english { "the place you will mark on the map" } else { "الموقع الذي ستحدده على الخريطة" }), "{}", heard_all(caller));
}

/// The link the text message to the caller carries, and its token.
async fn place_link(app: &TestApp, report: balagh_domain::report::ReportId) -> (String, String) {
    let rows = app.app.store.db.outbox_rows(&OutboxFilter { report: Some(report), limit: 100, ..OutboxFilter::default() }).await.unwrap();
    let texts: Vec<_> = rows.iter().filter(|row| row.topic == "place_requested").collect();
    assert_eq!(texts.len(), 1, "one text with the link: {rows:?}");
    assert_eq!(texts[0].recipient, format!("sms:{CALLER}"));
    assert!(!rows.iter().any(|row| row.topic == "received"), "the link's text is the receipt: {rows:?}");
    let payload: serde_json::Value = serde_json::from_str(&texts[0].payload).unwrap();
    let url = payload["place_url"].as_str().unwrap().to_owned();
    let token = url.rsplit('/').next().unwrap().to_owned();
    (url, token)
}

/// A caller opens a street-lighting report whose place he will mark from a link, in Arabic.
async fn call_for_a_link(app: &TestApp, markup: Markup) -> (TicketNumber, Caller) {
    let mut caller = Caller::dial(options(app, markup)).await.expect("the call is answered");
    caller.press("1").await.unwrap();
    new_report_by_link_until_confirm(&mut caller, false).await;
    caller.press("1").await.unwrap();
    let ticket = TicketNumber::parse(caller.ticket().expect("the ticket is read back")).unwrap();
    (ticket, caller)
}

fn conflict_code(error: balagh_app::AppError) -> &'static str {
    match error {
        balagh_app::AppError::Conflict { code, .. } => code,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn a_caller_asks_for_a_link_marks_the_place_on_the_map_and_the_report_goes_on() {
    for markup in [Markup::Twiml, Markup::VoiceXml] {
        let app = spawn_app_for_ivr(settings(markup)).await;
        let (ticket, mut caller) = call_for_a_link(&app, markup).await;
        let said = heard_all(&caller);
        assert_eq!(said.matches(&balagh_i18n::digits_spoken(&ticket.to_string(), "ar")).count(), 2, "{markup:?}: {said}");
        assert!(said.contains("وبرابط لتحديد الموقع") && said.contains("٢٤"), "the link and the wait are announced: {said}");

        let report = app.app.report(ticket).await.unwrap();
        assert_eq!(report.status, balagh_domain::Status::AwaitingCitizen, "it waits for its place");
        assert!(report.location.is_empty(), "{:?}", report.location);
        assert_eq!(report.service_code, "broken-streetlight");
        let (url, token) = place_link(&app, report.id).await;
        assert_eq!(url, format!("{}/ar/place/{token}", app.address));
        assert!(token.len() >= 22, "{token}");
        let wait = app.app.place_wait_for(&token).await.unwrap();
        assert_eq!(wait.expires_at, report.created_at + jiff::SignedDuration::from_hours(24));
        let id = report.id;
        assert_eq!(app.app.store.db.timer_due(balagh_app::TimerKind::Location, id).await.unwrap(), Some(wait.expires_at));
        assert_eq!(app.app.store.db.timer_due(balagh_app::TimerKind::Escalation, id).await.unwrap(), None, "the SLA waits with the report");

        // Staff cannot resume it by hand, and a wrong token finds nothing.
        let resumed = app.app.transition(ticket, balagh_domain::lifecycle::Command::Resume, &staff(), Channel::Api).await.unwrap_err();
        assert_eq!(conflict_code(resumed), "awaiting_place");
        assert!(matches!(app.app.place_wait_for("AAAAAAAAAAAAAAAAAAAAAA").await, Err(balagh_app::AppError::NotFound { .. })));
        assert!(matches!(app.app.place_wait_for("../../etc").await, Err(balagh_app::AppError::NotFound { .. })));

        app.clock.advance(jiff::SignedDuration::from_hours(2));
        let pin = balagh_domain::Coordinates::new(26.4334, 50.1033).unwrap();
        let placed = app.app.place_pin(&token, pin).await.unwrap();
        assert_eq!((placed.status, placed.location.coordinates), (balagh_domain::Status::New, Some(pin)));
        let stored = app.app.report(ticket).await.unwrap();
        assert_eq!((stored.status, stored.location.coordinates), (balagh_domain::Status::New, Some(pin)), "the place is stored");
        assert_eq!(conflict_code(app.app.place_pin(&token, pin).await.unwrap_err()), "place_already_marked");
        let request = app.app.store.db.location_request(id).await.unwrap().unwrap();
        assert_eq!(request.answered.map(|(_, outcome)| outcome), Some(balagh_app::LocationOutcome::Placed));
        assert_eq!(app.app.store.db.timer_due(balagh_app::TimerKind::Location, id).await.unwrap(), None);
        assert!(app.app.store.db.timer_due(balagh_app::TimerKind::Escalation, id).await.unwrap().is_some(), "the chain starts once it goes on");
        let public = app.app.timeline(ticket, &Actor::beneficiary()).await.unwrap();
        let kinds: Vec<&str> = public.iter().map(|e| e.event.kind.name()).collect();
        assert_eq!(kinds, ["created", "location_requested", "status_changed", "location_placed", "status_changed"], "{markup:?}");

        caller.press("").await.unwrap();
        caller.hang_up().await.unwrap();
        let call = app.app.ivr_call(caller.call_sid()).await.unwrap().unwrap();
        assert!(call.path.contains("details>place>record>callback>confirm"), "{}", call.path);
    }
}

#[tokio::test]
async fn a_report_whose_place_never_comes_goes_on_when_the_wait_ends_and_the_caller_is_told() {
    let app = server().await;
    let (ticket, mut caller) = call_for_a_link(&app, Markup::Twiml).await;
    caller.hang_up().await.unwrap();
    let id = ticket.report_id();
    let (_, token) = place_link(&app, id).await;
    let worker = balagh_app::EscalationWorker::new(app.app.clone(), "w1");
    assert_eq!(worker.run_once(app.app.now()).await.unwrap(), balagh_app::Outcome::Idle, "nothing is due yet");

    app.clock.advance(jiff::SignedDuration::from_hours(24));
    assert_eq!(conflict_code(app.app.place_wait_for(&token).await.unwrap_err()), "place_link_expired", "the link ends with the wait");
    // Another process (a restart) ends the wait: the timer is in the database.
    let restarted = app.another_process().await;
    let worker = balagh_app::EscalationWorker::new(restarted, "w2");
    assert!(matches!(worker.run_once(app.app.now()).await.unwrap(), balagh_app::Outcome::Worked(n) if n >= 1));
    let report = app.app.report(ticket).await.unwrap();
    assert_eq!(report.status, balagh_domain::Status::New, "it goes on with the caller's description");
    assert!(report.location.coordinates.is_none());
    let rows = app.app.store.db.outbox_rows(&OutboxFilter { report: Some(id), limit: 100, ..OutboxFilter::default() }).await.unwrap();
    assert!(rows.iter().any(|row| row.topic == "place_expired" && row.recipient == format!("sms:{CALLER}")), "the caller is told: {rows:?}");
    let timeline = app.app.timeline(ticket, &staff()).await.unwrap();
    let expired = timeline.iter().find(|e| e.event.kind.name() == "location_expired").expect("the end of the wait is on the timeline");
    assert_eq!(expired.event.actor.role, Role::System);
    assert_eq!(app.app.store.db.timer_due(balagh_app::TimerKind::Location, id).await.unwrap(), None);
    assert!(app.app.store.db.timer_due(balagh_app::TimerKind::Escalation, id).await.unwrap().is_some());

    // Once only: another pass does not end it again, and a late pin is refused.
    let again = balagh_app::EscalationWorker::new(app.app.clone(), "w3").run_once(app.app.now()).await.unwrap();
    let expirations = app.app.timeline(ticket, &staff()).await.unwrap().iter().filter(|e| e.event.kind.name() == "location_expired").count();
    assert_eq!(expirations, 1, "{again:?}");
    let pin = balagh_domain::Coordinates::new(26.4334, 50.1033).unwrap();
    assert_eq!(conflict_code(app.app.place_pin(&token, pin).await.unwrap_err()), "place_link_expired");
    assert_eq!(app.app.report(ticket).await.unwrap().location.coordinates, None);
}

#[tokio::test]
async fn assigning_a_report_that_waits_for_its_place_ends_the_wait() {
    let app = server().await;
    let (ticket, mut caller) = call_for_a_link(&app, Markup::Twiml).await;
    caller.hang_up().await.unwrap();
    let (_, token) = place_link(&app, ticket.report_id()).await;
    let department = app.app.report(ticket).await.unwrap().assignment.department;
    let assign = balagh_domain::lifecycle::Command::Assign { department, team: Some("east".into()), user: None };
    let assigned = app.app.transition(ticket, assign, &staff(), Channel::Api).await.unwrap();
    assert_eq!(assigned.status, balagh_domain::Status::Assigned);
    let request = app.app.store.db.location_request(ticket.report_id()).await.unwrap().unwrap();
    assert_eq!(request.answered.map(|(_, outcome)| outcome), Some(balagh_app::LocationOutcome::Superseded));
    assert_eq!(app.app.store.db.timer_due(balagh_app::TimerKind::Location, ticket.report_id()).await.unwrap(), None);
    assert_eq!(conflict_code(app.app.place_wait_for(&token).await.unwrap_err()), "place_link_expired");
}
