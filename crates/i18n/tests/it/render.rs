//! `render` for every topic, medium and language, overrides, and snapshots.

use balagh_i18n::sms::{Encoding, segments};
use balagh_i18n::{LANGUAGES, MAX_SMS_SEGMENTS, MEDIA, Rendered, Request, TOPICS, digits_spoken, render};
use expect_test::expect;
use jiff::Timestamp;
use serde_json::{Value, json};

const ISOLATION_MARKS: [char; 4] = ['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'];

fn now() -> Timestamp {
    "2026-12-05T09:00:00Z".parse().unwrap()
}

/// A payload with every field a topic may carry.
fn full_payload() -> Value {
    json!({
        "ticket": "10000047",
        "service_code": "street_light",
        "status": "in_progress",
        "note": "The team will replace the lamp post tomorrow morning.",
        "expected_at": "2026-12-07T12:00:00Z",
        "language": "ar",
        "department": "lighting",
        "priority": "high",
        "level": 2,
        "round": 1,
        "step": 1,
        "reason": "75% of the resolution time used",
        "n_follow_ups": 3,
    })
}

fn service(language: &str) -> &'static str {
    if language == "ar" { "إنارة الشوارع" } else { "Street lighting" }
}

fn request<'a>(topic: &'a str, medium: &'a str, language: &'a str, payload: &'a Value) -> Request<'a> {
    Request {
        topic,
        medium,
        language,
        payload,
        service_name: Some(service(language)),
        portal_url: Some("https://balagh.example.sa/r/10000047"),
        now: now(),
        override_source: None,
    }
}

/// Every string of a rendering.
fn all_text(rendered: &Rendered) -> Vec<String> {
    let mut texts = vec![rendered.subject.clone(), rendered.text.clone()];
    texts.extend(rendered.html.clone());
    texts.extend(rendered.speech.clone());
    if let Some((name, parameters)) = &rendered.whatsapp_template {
        texts.push(name.clone());
        texts.extend(parameters.iter().cloned());
    }
    texts
}

fn check_rendering(rendered: &Rendered, topic: &str, medium: &str, language: &str) {
    let context = format!("{topic}/{medium}/{language}");
    for text in all_text(rendered) {
        assert!(!text.contains(ISOLATION_MARKS), "{context}: isolation marks in {text:?}");
        assert!(!text.contains("{$") && !text.contains("{ $"), "{context}: unfilled variable in {text:?}");
    }
    assert_eq!(rendered.language, language, "{context}");
    assert_eq!(rendered.rtl, language == "ar", "{context}");
    assert!(rendered.text.contains("10000047"), "{context}: no ticket in {:?}", rendered.text);
    assert!(rendered.subject.contains("10000047"), "{context}: no ticket in the subject {:?}", rendered.subject);
    assert_eq!(rendered.override_error, None, "{context}");
    assert_eq!(rendered.html.is_some(), medium == "email", "{context}: html");
    assert_eq!(rendered.speech.is_some(), medium == "call", "{context}: speech");
    assert_eq!(rendered.segments.is_some(), medium == "sms", "{context}: segments");
    assert_eq!(rendered.whatsapp_template.is_some(), medium == "whatsapp", "{context}: whatsapp template");
    if let Some(speech) = &rendered.speech {
        assert!(speech.contains(&digits_spoken("10000047", language)), "{context}: the call does not read the ticket: {speech}");
        assert!(!speech.contains("10000047"), "{context}: the call reads the ticket as a number: {speech}");
    }
    if let Some(counted) = rendered.segments {
        assert_eq!(counted, segments(&rendered.text), "{context}");
        assert!(counted.count <= MAX_SMS_SEGMENTS, "{context}: {counted:?} for {:?}", rendered.text);
    }
    if let Some(html) = &rendered.html {
        let direction = if language == "ar" { "rtl" } else { "ltr" };
        assert!(html.contains(&format!("<div dir=\"{direction}\" lang=\"{language}\">")), "{context}: {html}");
    }
    if let Some((_, parameters)) = &rendered.whatsapp_template {
        assert!(parameters.iter().all(|parameter| !parameter.is_empty() && !parameter.contains('\n')), "{context}: {parameters:?}");
        assert_eq!(parameters[0], "10000047", "{context}");
    }
}

#[test]
fn every_topic_renders_for_every_medium_in_every_language() {
    let payload = full_payload();
    for topic in TOPICS.iter().chain(&["something_new"]) {
        for medium in MEDIA {
            for language in LANGUAGES {
                let rendered = render(&request(topic, medium, language, &payload));
                check_rendering(&rendered, topic, medium, language);
            }
        }
    }
}

#[test]
fn a_payload_with_only_a_ticket_still_renders() {
    let payload = json!({ "ticket": "10000047" });
    for topic in TOPICS.iter().chain(&["something_new"]) {
        for medium in MEDIA {
            for language in LANGUAGES {
                let mut bare = request(topic, medium, language, &payload);
                bare.service_name = None;
                bare.portal_url = None;
                check_rendering(&render(&bare), topic, medium, language);
            }
        }
    }
}

#[test]
fn odd_payloads_never_panic() {
    for payload in
        [json!({}), json!(null), json!([1, 2]), json!({"ticket": 10000047, "level": "2", "n_follow_ups": "x", "expected_at": "not a date", "note": "  "})]
    {
        for topic in TOPICS {
            for medium in MEDIA.iter().chain(&["carrier_pigeon"]) {
                let rendered = render(&request(topic, medium, "xx", &payload));
                assert!(!rendered.text.is_empty(), "{topic}/{medium}: {payload}");
            }
        }
    }
    let numeric_ticket = json!({"ticket": 10000047, "status": "new"});
    assert!(render(&request("status_changed", "sms", "en", &numeric_ticket)).text.contains("10000047"));
}

#[test]
fn statuses_are_translated() {
    let payload = json!({ "ticket": "10000047", "status": "awaiting_citizen" });
    let arabic = render(&request("status_changed", "sms", "ar", &payload));
    assert!(arabic.text.contains("بانتظار معلومات منكم"), "{}", arabic.text);
    assert!(!arabic.text.contains("awaiting_citizen"));
    let english = render(&request("status_changed", "sms", "en", &payload));
    assert!(english.text.contains("Waiting for information from you"), "{}", english.text);
}

#[test]
fn the_language_is_negotiated() {
    let payload = full_payload();
    let rendered = render(&request("status_changed", "sms", "ar-SA", &payload));
    assert_eq!((rendered.language.as_str(), rendered.rtl), ("ar", true));
    let rendered = render(&request("status_changed", "sms", "EN_us", &payload));
    assert_eq!((rendered.language.as_str(), rendered.rtl), ("en", false));
    let rendered = render(&request("status_changed", "sms", "tl", &payload));
    assert_eq!(rendered.language, "ar");
}

#[test]
fn an_unknown_topic_gets_a_generic_update() {
    let payload = json!({ "ticket": "10000047" });
    let rendered = render(&request("brand_new_topic", "sms", "en", &payload));
    assert_eq!(rendered.text, "There is an update on your report 10000047 (Street lighting). Follow your report: https://balagh.example.sa/r/10000047");
}

#[test]
fn expected_dates_in_the_past_or_after_the_work_are_left_out() {
    let mut payload = full_payload();
    payload["expected_at"] = "2026-12-01T12:00:00Z".into();
    let past = render(&request("status_changed", "email", "en", &payload));
    assert!(!past.text.contains("Expected completion"), "{}", past.text);
    let mut payload = full_payload();
    payload["status"] = "resolved".into();
    let resolved = render(&request("status_changed", "email", "en", &payload));
    assert!(!resolved.text.contains("Expected completion"), "{}", resolved.text);
    assert!(resolved.text.contains("If the problem has not been fixed"), "{}", resolved.text);
}

#[test]
fn a_long_arabic_note_is_shortened_to_fit_three_segments() {
    let mut payload = full_payload();
    payload["note"] = "سيقوم الفريق الميداني باستبدال عمود الإنارة المتضرر صباح الغد، ونعتذر عن أي إزعاج. ".repeat(6).into();
    let rendered = render(&request("status_changed", "sms", "ar", &payload));
    let counted = rendered.segments.unwrap();
    assert_eq!(counted.encoding, Encoding::Ucs2);
    assert!(counted.count <= MAX_SMS_SEGMENTS, "{counted:?}");
    assert!(counted.units > 180, "the note should fill the room: {counted:?}");
    assert!(rendered.text.starts_with("نفيدكم بأن حالة بلاغكم رقم 10000047"), "{}", rendered.text);
    assert!(rendered.text.contains('…'), "{}", rendered.text);
    assert!(rendered.text.ends_with("https://balagh.example.sa/r/10000047"), "{}", rendered.text);
}

#[test]
fn an_english_sms_stays_in_gsm_7() {
    let mut payload = full_payload();
    payload["note"] = "The crew found a damaged cable under the road and will need to dig. ".repeat(10).into();
    let rendered = render(&request("status_changed", "sms", "en", &payload));
    let counted = rendered.segments.unwrap();
    assert_eq!(counted.encoding, Encoding::Gsm7, "{}", rendered.text);
    assert_eq!(counted.count, MAX_SMS_SEGMENTS);
    assert!(rendered.text.contains("..."), "{}", rendered.text);
}

#[test]
fn email_html_is_escaped() {
    let mut payload = full_payload();
    payload["note"] = "<script>alert('x')</script> & more\nsecond line".into();
    let rendered = render(&request("public_comment", "email", "en", &payload));
    let html = rendered.html.unwrap();
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more<br>"), "{html}");
    assert!(!html.contains("<script>"));
    assert!(html.contains("<a href=\"https://balagh.example.sa/r/10000047\">"), "{html}");
    assert!(rendered.text.contains("<script>"), "the text part is not HTML and stays as written");
}

#[test]
fn an_override_replaces_the_text() {
    let payload = full_payload();
    let source = "بلاغ {{ ticket }}: {{ status }}{% if note %} - {{ note }}{% endif %}\n{{ date }} {{ payload.department }}";
    let mut sms = request("status_changed", "sms", "ar", &payload);
    sms.override_source = Some(source);
    let rendered = render(&sms);
    assert_eq!(rendered.override_error, None);
    assert_eq!(
        rendered.text,
        "بلاغ 10000047: قيد المعالجة - The team will replace the lamp post tomorrow morning.\n٧ ديسمبر ٢٠٢٦م الموافق ٢٧ جمادى الآخرة ١٤٤٨هـ lighting"
    );
    assert_eq!(rendered.segments, Some(segments(&rendered.text)));

    let mut email = request("status_changed", "email", "en", &payload);
    email.override_source = Some("Report {{ ticket }} & <b>{{ status }}</b>\n\nSee {{ portal_url }}");
    let rendered = render(&email);
    assert_eq!(rendered.text, "Report 10000047 & <b>In progress</b>\n\nSee https://balagh.example.sa/r/10000047");
    let html = rendered.html.unwrap();
    assert!(html.contains("<p>Report 10000047 &amp; &lt;b&gt;In progress&lt;/b&gt;</p>"), "{html}");
    assert!(html.contains("<p>See <a href=\"https://balagh.example.sa/r/10000047\">https://balagh.example.sa/r/10000047</a></p>"), "{html}");
    assert_eq!(rendered.subject, "Update on your report 10000047");

    let mut call = request("status_changed", "call", "en", &payload);
    call.override_source = Some("Your report is {{ status }}.");
    assert_eq!(render(&call).speech.as_deref(), Some("Your report is In progress."));
}

#[test]
fn a_long_override_is_fitted_to_the_sms_budget() {
    let payload = full_payload();
    let mut sms = request("status_changed", "sms", "en", &payload);
    sms.override_source = Some("{{ ticket }} {% for i in range(100) %}word {% endfor %}");
    let rendered = render(&sms);
    assert_eq!(rendered.override_error, None);
    assert_eq!(rendered.segments.unwrap().count, MAX_SMS_SEGMENTS);
    assert!(rendered.text.starts_with("10000047 word"));
}

#[test]
fn a_failing_override_falls_back_to_the_built_in_text() {
    let payload = full_payload();
    let built_in = render(&request("status_changed", "sms", "ar", &payload));
    for (source, expected_error) in [
        ("{{ ticket }\n", "line 1: syntax error"),
        ("ok\n{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}", "line 2: engine ran out of fuel"),
        ("{{ no_such_name }}", "line 1: undefined value"),
        ("{% if note %}{% endif %}", "the template rendered an empty text"),
    ] {
        let mut overridden = request("status_changed", "sms", "ar", &payload);
        overridden.override_source = Some(source);
        let rendered = render(&overridden);
        assert_eq!(rendered.text, built_in.text, "{source:?}");
        assert_eq!(rendered.segments, built_in.segments);
        let error = rendered.override_error.unwrap_or_else(|| panic!("{source:?} should fail"));
        assert!(error.starts_with(expected_error), "{source:?} gave {error:?}");
    }
}

#[test]
fn snapshot_of_an_arabic_status_sms() {
    let payload = full_payload();
    let rendered = render(&request("status_changed", "sms", "ar", &payload));
    expect![[r#"
        نفيدكم بأن حالة بلاغكم رقم 10000047 (إنارة الشوارع) أصبحت: قيد المعالجة. ملاحظة: The team will replace the lamp post tomorrow morning. لمتابعة بلاغكم: https://balagh.example.sa/r/10000047
        Segments { encoding: Ucs2, units: 187, count: 3 }"#]]
    .assert_eq(&format!("{}\n{:?}", rendered.text, rendered.segments.unwrap()));
}

#[test]
fn snapshot_of_an_update_call() {
    let payload = full_payload();
    let english = render(&request("status_changed", "call", "en", &payload));
    expect![[r#"Hello, this is Balagh with an update on your report number 1, 0, 0, 0, 0, 0, 4, 7. Its status is now: In progress. The department added this note: The team will replace the lamp post tomorrow morning. The expected completion date is 7 December 2026."#]]
        .assert_eq(english.speech.as_deref().unwrap());
    let arabic = render(&request("status_changed", "call", "ar", &payload));
    expect![[r#"السلام عليكم، معكم منصة بلاغ بتحديث على بلاغكم رقم واحد، صفر، صفر، صفر، صفر، صفر، أربعة، سبعة. حالة البلاغ الآن: قيد المعالجة. وأضافت الجهة المختصة الملاحظة التالية: The team will replace the lamp post tomorrow morning. والموعد المتوقع للإنجاز هو ٧ ديسمبر ٢٠٢٦."#]]
        .assert_eq(arabic.speech.as_deref().unwrap());
}

#[test]
fn snapshot_of_an_escalation_email_to_staff() {
    let payload = full_payload();
    let rendered = render(&request("escalation", "email", "ar", &payload));
    expect![[r#"
        تصعيد المستوى ٢: البلاغ رقم 10000047

        الزميل الكريم،

        صُعِّد البلاغ رقم 10000047 (إنارة الشوارع) إلى المستوى ٢ من سلسلة التصعيد.
        ملاحظة الجهة المختصة: The team will replace the lamp post tomorrow morning.
        السبب: 75% of the resolution time used
        الإدارة: lighting
        الأولوية: مرتفعة
        الحالة الحالية: قيد المعالجة
        موعد الإنجاز المحدد: ٧ ديسمبر ٢٠٢٦م الموافق ٢٧ جمادى الآخرة ١٤٤٨هـ الساعة ١٥:٠٠ بتوقيت الرياض
        الخطوة ١، الجولة ١.
        نأمل اتخاذ الإجراء اللازم في أقرب وقت ممكن.

        منصة بلاغ للبلاغات البلدية"#]]
    .assert_eq(&format!("{}\n\n{}", rendered.subject, rendered.text));
    let rendered = render(&request("escalation", "email", "en", &payload));
    expect![[r#"
        Escalation level 2: report 10000047

        Dear colleague,

        Report 10000047 (Street lighting) has been escalated to level 2 of its escalation chain.
        Note from the department: The team will replace the lamp post tomorrow morning.
        Reason: 75% of the resolution time used
        Department: lighting
        Priority: High
        Current status: In progress
        Resolution due: 7 December 2026 (27 Jumada al-Akhirah 1448 AH) at 15:00 (Riyadh time)
        Step 1, round 1.
        Please act on it as soon as possible.

        Balagh, municipal reports"#]]
    .assert_eq(&format!("{}\n\n{}", rendered.subject, rendered.text));
}

#[test]
fn snapshot_of_a_closure_survey_whatsapp() {
    let mut payload = full_payload();
    payload["status"] = "closed".into();
    let rendered = render(&request("closure_survey", "whatsapp", "en", &payload));
    expect![[r#"
        Your report 10000047 (Street lighting) has been closed. We would value your opinion of how it was handled.
        Note from the department: The team will replace the lamp post tomorrow morning.
        Rate the service: https://balagh.example.sa/r/10000047
        ("balagh_closure_survey", ["10000047"])"#]]
    .assert_eq(&format!("{}\n{:?}", rendered.text, rendered.whatsapp_template.unwrap()));
}

#[test]
fn snapshot_of_an_arabic_place_link_sms() {
    let payload = json!({
        "ticket": "10000047",
        "status": "awaiting_citizen",
        "place_url": "https://balagh.example.sa/ar/place/Qm9yZWQgd2l0aCBhIHBpbg",
        "place_until": "2026-12-05T15:30:00Z",
    });
    let rendered = render(&request("place_requested", "sms", "ar", &payload));
    expect![[r#"
        سجلنا بلاغكم 10000047 (إنارة الشوارع). نرجو تحديد موقع المشكلة على الخريطة ليصل إليه الفريق. لتحديد الموقع: https://balagh.example.sa/ar/place/Qm9yZWQgd2l0aCBhIHBpbg
        Segments { encoding: Ucs2, units: 165, count: 3 }"#]].assert_eq(&format!("{}\n{:?}", rendered.text, rendered.segments.unwrap()));
    let english = render(&request("place_requested", "sms", "en", &payload));
    assert!(english.text.contains("https://balagh.example.sa/ar/place/Qm9yZWQgd2l0aCBhIHBpbg"), "{}", english.text);
    assert!(english.text.contains("18:30"), "the deadline in Riyadh time: {}", english.text);
}
