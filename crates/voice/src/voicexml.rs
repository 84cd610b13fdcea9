//! VoiceXML 2.1, as on-premises VoiceXML browsers read it (Asterisk with a VoiceXML browser, Cisco,
//! Avaya): the same call flow as the TwiML rendering, with TwiML's semantics, and read back.
//!
//! The document declares the session as document variables and submits them with every request,
//! as Twilio adds `CallSid` and `From` itself. Each verb is one `<form id="verbN">` holding one form
//! item, and control goes on to the next form (`<goto next="#verbN+1"/>`) wherever TwiML goes on
//! with the next verb; after the last form the document ends, and the call with it, as in TwiML.
//!
//! - `Say`: a `<block>` with a `<prompt xml:lang>` (the voice as SSML `<voice name>`); outside a
//!   gather it does not barge in, as a TwiML `<Say>` outside `<Gather>` cannot be interrupted.
//! - `Pause`: the same with `<break time="Ns"/>`.
//! - `Gather`: `<field name="Digits">` with a builtin DTMF digits grammar, `timeout` and
//!   `interdigittimeout` properties (TwiML's timeout is both), a `termchar` property for the finish
//!   key (absent: the VoiceXML default `#`, as TwiML's), the prompts, a `<filled>` submitting
//!   `Digits` and the session to `action`, and a `<catch event="noinput nomatch">` going on with the
//!   next form, or `<exit/>` after the last one (a bare catch would ask again, forever).
//! - `Record`: `<record name="Recording">` (`maxtime` is TwiML's maxLength, `finalsilence` its
//!   timeout) with `dtmfterm="true"`, whose inline DTMF grammar names the finish key; its `<filled>`
//!   submits the audio as `multipart/form-data`, and `noinput` goes on like a gather's. VoiceXML has
//!   no transcription callback, so `transcribe_callback` is not rendered.
//! - `Redirect`: `<submit next method="post" namelist="session"/>`; `Hangup`: `<disconnect/>`.
//! - `Dial`: `<transfer name="DialCallStatus" dest bridge="true">`, `dest` being the number as a
//!   `tel:` URI, or the `sip:`/`sips:` address as is. `Enqueue`: the same with
//!   `name="QueueResult"` and `dest="queue:NAME"`, a URI scheme the platform's dialplan maps to its
//!   agents' queue. The names are the parameters Twilio posts to the verbs' actions. The transfer's
//!   `<filled>` submits to `action` if set, else goes on with the next form. The wait URL is not
//!   rendered: it names a TwiML document, and `transferaudio` takes audio.

use crate::dialog::{Dialog, Verb};
use crate::markup::{Element, MarkupError, read_document};

const DEFAULT_TIMEOUT_SECONDS: u32 = 5;

/// The VoiceXML 2.1 document for `dialog`. Session names must be ECMAScript identifiers
/// (`CallSid`); gather prompts other than `Say` and `Pause` are not rendered.
pub fn render(dialog: &Dialog) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<vxml version=\"2.1\" xmlns=\"http://www.w3.org/2001/vxml\" xml:lang=\"{}\">\n",
        escape(&dialog.language)
    );
    for (name, value) in &dialog.session {
        xml.push_str(&format!("<var name=\"{}\" expr=\"{}\"/>\n", escape(name), escape(&javascript_string(value))));
    }
    let session: Vec<&str> = dialog.session.iter().map(|(name, _)| name.as_str()).collect();
    if dialog.verbs.is_empty() {
        xml.push_str("<form id=\"verb1\"/>\n");
    }
    for (index, verb) in dialog.verbs.iter().enumerate() {
        let next = (index + 1 < dialog.verbs.len()).then(|| form_id(index + 1));
        xml.push_str(&format!("<form id=\"{}\">", form_id(index)));
        write_form_item(&mut xml, verb, next.as_deref(), &session);
        xml.push_str("</form>\n");
    }
    xml.push_str("</vxml>");
    xml
}

fn form_id(index: usize) -> String {
    format!("verb{}", index + 1)
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// `value` as an ECMAScript string literal in single quotes.
fn javascript_string(value: &str) -> String {
    let mut literal = String::from("'");
    for character in value.chars() {
        match character {
            '\\' => literal.push_str("\\\\"),
            '\'' => literal.push_str("\\'"),
            '\n' => literal.push_str("\\n"),
            '\r' => literal.push_str("\\r"),
            '\t' => literal.push_str("\\t"),
            '\u{2028}' | '\u{2029}' => literal.push_str(&format!("\\u{:04x}", u32::from(character))),
            other => literal.push(other),
        }
    }
    literal.push('\'');
    literal
}

fn write_form_item(xml: &mut String, verb: &Verb, next: Option<&str>, session: &[&str]) {
    let go_on = match next {
        Some(next) => format!("<goto next=\"#{next}\"/>"),
        None => String::new(),
    };
    match verb {
        Verb::Say { .. } | Verb::Pause(_) => {
            xml.push_str("<block>");
            write_prompt(xml, verb, false);
            xml.push_str(&format!("{go_on}</block>"));
        }
        Verb::Gather { action, num_digits, finish_on_key, timeout_seconds, prompts } => {
            let grammar = match num_digits {
                Some(length) => format!("builtin:dtmf/digits?length={length}"),
                None => "builtin:dtmf/digits?minlength=1;maxlength=32".to_string(),
            };
            xml.push_str(&format!("<field name=\"Digits\"><grammar mode=\"dtmf\" src=\"{grammar}\"/>"));
            xml.push_str(&format!(
                "<property name=\"timeout\" value=\"{timeout_seconds}s\"/><property name=\"interdigittimeout\" value=\"{timeout_seconds}s\"/>"
            ));
            if let Some(key) = finish_on_key {
                xml.push_str(&format!("<property name=\"termchar\" value=\"{}\"/>", escape(&key.to_string())));
            }
            for prompt in prompts {
                write_prompt(xml, prompt, true);
            }
            xml.push_str(&format!("<filled>{}</filled>", submit(action, &["Digits"], session, false)));
            xml.push_str(&format!("<catch event=\"noinput nomatch\">{}</catch></field>", if go_on.is_empty() { "<exit/>" } else { &go_on }));
        }
        Verb::Record { action, max_length_seconds, timeout_seconds, finish_on_key, transcribe_callback: _ } => {
            xml.push_str(&format!(
                "<record name=\"Recording\" maxtime=\"{max_length_seconds}s\" finalsilence=\"{timeout_seconds}s\" dtmfterm=\"true\" beep=\"true\" type=\"audio/x-wav\">"
            ));
            xml.push_str(&format!(
                "<grammar mode=\"dtmf\" version=\"1.0\" root=\"finish\"><rule id=\"finish\">{}</rule></grammar>",
                escape(&finish_on_key.to_string())
            ));
            xml.push_str(&format!("<filled>{}</filled>", submit(action, &["Recording"], session, true)));
            xml.push_str(&format!("<catch event=\"noinput\">{}</catch></record>", if go_on.is_empty() { "<exit/>" } else { &go_on }));
        }
        Verb::Redirect(url) => xml.push_str(&format!("<block>{}</block>", submit(url, &[], session, false))),
        Verb::Enqueue { queue, action, wait_url: _ } => write_transfer(xml, "QueueResult", &format!("queue:{queue}"), action.as_deref(), &go_on, session),
        Verb::Dial { number, action } => {
            let destination = if number.starts_with("sip:") || number.starts_with("sips:") { number.clone() } else { format!("tel:{number}") };
            write_transfer(xml, "DialCallStatus", &destination, action.as_deref(), &go_on, session);
        }
        Verb::Hangup => xml.push_str("<block><disconnect/></block>"),
    }
}

/// A `Say` or `Pause` as a prompt; a prompt outside a gather does not let the caller barge in.
fn write_prompt(xml: &mut String, verb: &Verb, barge_in: bool) {
    let barge_in = if barge_in { "" } else { " bargein=\"false\"" };
    match verb {
        Verb::Say { language, voice, text } => {
            let language = if language.is_empty() { String::new() } else { format!(" xml:lang=\"{}\"", escape(language)) };
            let text = match voice {
                Some(voice) => format!("<voice name=\"{}\">{}</voice>", escape(voice), escape(text)),
                None => escape(text),
            };
            xml.push_str(&format!("<prompt{barge_in}{language}>{text}</prompt>"));
        }
        Verb::Pause(seconds) => xml.push_str(&format!("<prompt{barge_in}><break time=\"{seconds}s\"/></prompt>")),
        _ => {}
    }
}

fn write_transfer(xml: &mut String, name: &str, destination: &str, action: Option<&str>, go_on: &str, session: &[&str]) {
    let filled = match action {
        Some(action) => submit(action, &[name], session, false),
        None => go_on.to_string(),
    };
    xml.push_str(&format!("<transfer name=\"{name}\" dest=\"{}\" bridge=\"true\"><filled>{filled}</filled></transfer>", escape(destination)));
}

fn submit(url: &str, fields: &[&str], session: &[&str], multipart: bool) -> String {
    let names = fields.iter().chain(session).copied().collect::<Vec<_>>().join(" ");
    let names = if names.is_empty() { String::new() } else { format!(" namelist=\"{}\"", escape(&names)) };
    let enctype = if multipart { " enctype=\"multipart/form-data\"" } else { "" };
    format!("<submit next=\"{}\" method=\"post\"{enctype}{names}/>", escape(url))
}

/// Reads a VoiceXML document as `render` writes it back into a `Dialog`, language and session
/// included. Forms must run one after the other as verbs do; anything `render` does not write is an
/// error naming the element or value.
pub fn parse(xml: &str) -> Result<Dialog, MarkupError> {
    let root = read_document(xml)?.root("vxml")?;
    let language = root.attribute("xml:lang").unwrap_or_default().to_string();
    let mut session = Vec::new();
    let mut forms = Vec::new();
    for element in root.elements()? {
        match element.name.as_str() {
            "var" => session.push((element.required("name")?.to_string(), read_javascript_string(element, element.required("expr")?)?)),
            "form" => forms.push(element),
            _ => return Err(element.unsupported_in("vxml")),
        }
    }
    let mut verbs = Vec::new();
    for (index, form) in forms.iter().enumerate() {
        let id = form.attribute("id").unwrap_or_default();
        let flow_error = |problem: String| MarkupError::Flow { form: id.to_string(), problem };
        let item = match form.elements()?.as_slice() {
            [] if forms.len() == 1 => break,
            [item] => *item,
            items => return Err(flow_error(format!("holds {} form items, expected one", items.len()))),
        };
        let (verb, goes_on_to) = read_form_item(item)?;
        let next = forms.get(index + 1).map(|form| format!("#{}", form.attribute("id").unwrap_or_default()));
        match (goes_on_to, &next) {
            (Some(target), Some(next)) if &target != next => return Err(flow_error(format!("goes on to {target:?}, expected {next:?}"))),
            (Some(target), None) => return Err(flow_error(format!("goes on to {target:?} after the last form"))),
            (None, Some(next)) if goes_on(&verb) => return Err(flow_error(format!("does not go on to {next:?}"))),
            _ => {}
        }
        verbs.push(verb);
    }
    Ok(Dialog { language, session, verbs })
}

/// Whether TwiML goes on with the next verb after this one.
fn goes_on(verb: &Verb) -> bool {
    match verb {
        Verb::Say { .. } | Verb::Pause(_) | Verb::Gather { .. } | Verb::Record { .. } => true,
        Verb::Enqueue { action, .. } | Verb::Dial { action, .. } => action.is_none(),
        Verb::Redirect(_) | Verb::Hangup => false,
    }
}

/// The verb of one form item, and the form it goes on to (`<goto next>`), if any.
fn read_form_item(item: &Element) -> Result<(Verb, Option<String>), MarkupError> {
    match item.name.as_str() {
        "block" => read_block(item),
        "field" => read_field(item),
        "record" => read_record(item),
        "transfer" => read_transfer(item),
        _ => Err(item.unsupported_in("form")),
    }
}

fn read_block(block: &Element) -> Result<(Verb, Option<String>), MarkupError> {
    let (mut verb, mut goes_on_to) = (None, None);
    for element in block.elements()? {
        let read = match element.name.as_str() {
            "prompt" => read_prompt(element)?,
            "submit" => Verb::Redirect(read_submit(element)?),
            "disconnect" => Verb::Hangup,
            "goto" | "exit" => {
                set_once(block, &mut goes_on_to, read_goto(element)?, "goto or exit")?;
                continue;
            }
            _ => return Err(element.unsupported_in("block")),
        };
        set_once(block, &mut verb, read, "prompt, submit or disconnect")?;
    }
    let verb = verb.ok_or_else(|| block.missing("a prompt, submit or disconnect"))?;
    Ok((verb, goes_on_to.flatten()))
}

fn read_field(field: &Element) -> Result<(Verb, Option<String>), MarkupError> {
    let (mut grammar, mut action, mut goes_on_to) = (None, None, None);
    let (mut timeout_seconds, mut finish_on_key, mut prompts) = (None, None, Vec::new());
    for element in field.elements()? {
        match element.name.as_str() {
            "grammar" => set_once(field, &mut grammar, read_digits_grammar(element)?, "grammar")?,
            "property" => match element.required("name")? {
                "timeout" => set_once(field, &mut timeout_seconds, read_seconds(element, "value")?, "timeout property")?,
                "interdigittimeout" => {
                    read_seconds(element, "value")?;
                }
                "termchar" => set_once(field, &mut finish_on_key, read_key(element, element.required("value")?)?, "termchar property")?,
                name => return Err(element.invalid("property", name, "timeout, interdigittimeout or termchar")),
            },
            "prompt" => prompts.push(read_prompt(element)?),
            "filled" => set_once(field, &mut action, read_filled_submit(element)?, "filled")?,
            "catch" => set_once(field, &mut goes_on_to, read_catch(element)?, "catch")?,
            _ => return Err(element.unsupported_in("field")),
        }
    }
    let verb = Verb::Gather {
        action: action.ok_or_else(|| field.missing("a <filled> with a <submit>"))?,
        num_digits: grammar.ok_or_else(|| field.missing("a <grammar>"))?,
        finish_on_key,
        timeout_seconds: timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS),
        prompts,
    };
    Ok((verb, goes_on_to.flatten()))
}

fn read_record(record: &Element) -> Result<(Verb, Option<String>), MarkupError> {
    let (mut finish_on_key, mut action, mut goes_on_to) = (None, None, None);
    for element in record.elements()? {
        match element.name.as_str() {
            "grammar" => set_once(record, &mut finish_on_key, read_finish_grammar(element)?, "grammar")?,
            "filled" => set_once(record, &mut action, read_filled_submit(element)?, "filled")?,
            "catch" => set_once(record, &mut goes_on_to, read_catch(element)?, "catch")?,
            _ => return Err(element.unsupported_in("record")),
        }
    }
    let verb = Verb::Record {
        action: action.ok_or_else(|| record.missing("a <filled> with a <submit>"))?,
        max_length_seconds: read_seconds(record, "maxtime")?,
        timeout_seconds: read_seconds(record, "finalsilence")?,
        finish_on_key: finish_on_key.unwrap_or('#'),
        transcribe_callback: None,
    };
    Ok((verb, goes_on_to.flatten()))
}

fn read_transfer(transfer: &Element) -> Result<(Verb, Option<String>), MarkupError> {
    let (mut action, mut goes_on_to) = (None, None);
    for element in transfer.elements()? {
        if element.name != "filled" {
            return Err(element.unsupported_in("transfer"));
        }
        for step in element.elements()? {
            match step.name.as_str() {
                "submit" => set_once(element, &mut action, read_submit(step)?, "submit")?,
                "goto" | "exit" => set_once(element, &mut goes_on_to, read_goto(step)?, "goto or exit")?,
                _ => return Err(step.unsupported_in("filled")),
            }
        }
    }
    let destination = transfer.required("dest")?;
    let verb = if let Some(queue) = destination.strip_prefix("queue:") {
        Verb::Enqueue { queue: queue.to_string(), wait_url: None, action }
    } else if let Some(number) = destination.strip_prefix("tel:") {
        Verb::Dial { number: number.to_string(), action }
    } else if destination.starts_with("sip:") || destination.starts_with("sips:") {
        Verb::Dial { number: destination.to_string(), action }
    } else {
        return Err(transfer.invalid("dest", destination, "a tel:, sip:, sips: or queue: URI"));
    };
    Ok((verb, goes_on_to.flatten()))
}

/// A prompt as `render` writes it: text, text in one SSML `<voice>`, or one `<break>`.
fn read_prompt(prompt: &Element) -> Result<Verb, MarkupError> {
    let language = prompt.attribute("xml:lang").unwrap_or_default().to_string();
    if !prompt.has_elements() {
        return Ok(Verb::Say { language, voice: None, text: prompt.text()? });
    }
    match prompt.elements()?.as_slice() {
        [voice] if voice.name == "voice" => Ok(Verb::Say { language, voice: Some(voice.required("name")?.to_string()), text: voice.text()? }),
        [pause] if pause.name == "break" => {
            pause.empty()?;
            Ok(Verb::Pause(read_seconds(pause, "time")?))
        }
        [other] => Err(other.unsupported_in("prompt")),
        [_, second, ..] => Err(second.unsupported_in("prompt")),
        [] => Ok(Verb::Say { language, voice: None, text: String::new() }),
    }
}

/// The number of digits a builtin DTMF digits grammar asks for, if it fixes one.
fn read_digits_grammar(grammar: &Element) -> Result<Option<u32>, MarkupError> {
    let source = grammar.required("src")?;
    let expected = "builtin:dtmf/digits with ?length=N or ?minlength=1;maxlength=32";
    let invalid = || grammar.invalid("src", source, expected);
    match source.strip_prefix("builtin:dtmf/digits") {
        Some("" | "?minlength=1;maxlength=32") => Ok(None),
        Some(parameters) => parameters.strip_prefix("?length=").and_then(|length| length.parse().ok()).map(Some).ok_or_else(invalid),
        None => Err(invalid()),
    }
}

/// The finish key of a recording: an inline DTMF grammar whose one rule is that key.
fn read_finish_grammar(grammar: &Element) -> Result<char, MarkupError> {
    match grammar.elements()?.as_slice() {
        [rule] if rule.name == "rule" => read_key(rule, rule.text()?.trim()),
        [other, ..] => Err(other.unsupported_in("grammar")),
        [] => Err(grammar.missing("a <rule> naming the finish key")),
    }
}

fn read_filled_submit(filled: &Element) -> Result<String, MarkupError> {
    match filled.elements()?.as_slice() {
        [submit] if submit.name == "submit" => read_submit(submit),
        [other, ..] if other.name != "submit" => Err(other.unsupported_in("filled")),
        [_, second, ..] => Err(second.unsupported_in("filled")),
        _ => Err(filled.missing("a <submit>")),
    }
}

fn read_submit(submit: &Element) -> Result<String, MarkupError> {
    submit.empty()?;
    Ok(submit.required("next")?.to_string())
}

/// The form a catch goes on to; `None` when it exits after the last form.
fn read_catch(catch: &Element) -> Result<Option<String>, MarkupError> {
    match catch.elements()?.as_slice() {
        [step] if step.name == "goto" || step.name == "exit" => read_goto(step),
        [other, ..] if other.name != "goto" && other.name != "exit" => Err(other.unsupported_in("catch")),
        [_, second, ..] => Err(second.unsupported_in("catch")),
        _ => Err(catch.missing("a <goto> or <exit>")),
    }
}

/// The target of a `<goto next>`; `None` for `<exit/>`.
fn read_goto(step: &Element) -> Result<Option<String>, MarkupError> {
    step.empty()?;
    if step.name == "exit" { Ok(None) } else { Ok(Some(step.required("next")?.to_string())) }
}

fn read_seconds(element: &Element, attribute: &str) -> Result<u32, MarkupError> {
    let value = element.required(attribute)?;
    value.trim().strip_suffix('s').and_then(|number| number.parse().ok()).ok_or_else(|| element.invalid(attribute, value, "whole seconds such as 5s"))
}

fn read_key(element: &Element, key: &str) -> Result<char, MarkupError> {
    let mut characters = key.chars();
    match (characters.next(), characters.next()) {
        (Some(key), None) => Ok(key),
        _ => Err(element.invalid("key", key, "a single key")),
    }
}

fn set_once<T>(element: &Element, slot: &mut Option<T>, value: T, what: &str) -> Result<(), MarkupError> {
    if slot.is_some() {
        return Err(element.duplicate(what));
    }
    *slot = Some(value);
    Ok(())
}

/// The value of an ECMAScript string literal, as `render` writes session values.
fn read_javascript_string(element: &Element, literal: &str) -> Result<String, MarkupError> {
    let invalid = || element.invalid("expr", literal, "a quoted string literal");
    let trimmed = literal.trim();
    let quote = trimmed.chars().next().filter(|quote| *quote == '\'' || *quote == '"').ok_or_else(invalid)?;
    let body = trimmed[1..].strip_suffix(quote).ok_or_else(invalid)?;
    let (mut value, mut characters) = (String::new(), body.chars());
    while let Some(character) = characters.next() {
        match character {
            '\\' => match characters.next() {
                Some('n') => value.push('\n'),
                Some('r') => value.push('\r'),
                Some('t') => value.push('\t'),
                Some('u') => {
                    let hex: String = characters.by_ref().take(4).collect();
                    let code = u32::from_str_radix(&hex, 16).ok().filter(|_| hex.len() == 4).and_then(char::from_u32).ok_or_else(invalid)?;
                    value.push(code);
                }
                Some(escaped @ ('\\' | '\'' | '"')) => value.push(escaped),
                _ => return Err(invalid()),
            },
            other if other == quote => return Err(invalid()),
            other => value.push(other),
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markup::testing::{assert_well_formed, every_verb};

    fn arabic_menu() -> Dialog {
        let say = |text: &str| Verb::Say { language: "ar-SA".into(), voice: Some("Polly.Zeina".into()), text: text.into() };
        Dialog {
            language: "ar-SA".into(),
            session: vec![("CallSid".into(), "CA1f2e".into()), ("From".into(), "+966501234567".into())],
            verbs: vec![
                say("مرحباً بكم في بلاغ، خدمة البلاغات البلدية."),
                Verb::Gather {
                    action: "https://940.example/voice/menu?call=CA1f2e&step=main".into(),
                    num_digits: Some(1),
                    finish_on_key: None,
                    timeout_seconds: 8,
                    prompts: vec![say("لتقديم بلاغ جديد اضغط 1، ولمتابعة بلاغ سابق اضغط 2، وللتحدث مع موظف اضغط 0."), Verb::Pause(1)],
                },
                say("لم نتلق اختيارك."),
                Verb::Redirect("https://940.example/voice/menu?call=CA1f2e&retry=1".into()),
            ],
        }
    }

    #[test]
    fn an_arabic_menu_is_written_as_a_voicexml_browser_reads_it() {
        let xml = render(&arabic_menu());
        assert_well_formed(&xml);
        expect_test::expect![[r##"
            <?xml version="1.0" encoding="UTF-8"?>
            <vxml version="2.1" xmlns="http://www.w3.org/2001/vxml" xml:lang="ar-SA">
            <var name="CallSid" expr="&apos;CA1f2e&apos;"/>
            <var name="From" expr="&apos;+966501234567&apos;"/>
            <form id="verb1"><block><prompt bargein="false" xml:lang="ar-SA"><voice name="Polly.Zeina">مرحباً بكم في بلاغ، خدمة البلاغات البلدية.</voice></prompt><goto next="#verb2"/></block></form>
            <form id="verb2"><field name="Digits"><grammar mode="dtmf" src="builtin:dtmf/digits?length=1"/><property name="timeout" value="8s"/><property name="interdigittimeout" value="8s"/><prompt xml:lang="ar-SA"><voice name="Polly.Zeina">لتقديم بلاغ جديد اضغط 1، ولمتابعة بلاغ سابق اضغط 2، وللتحدث مع موظف اضغط 0.</voice></prompt><prompt><break time="1s"/></prompt><filled><submit next="https://940.example/voice/menu?call=CA1f2e&amp;step=main" method="post" namelist="Digits CallSid From"/></filled><catch event="noinput nomatch"><goto next="#verb3"/></catch></field></form>
            <form id="verb3"><block><prompt bargein="false" xml:lang="ar-SA"><voice name="Polly.Zeina">لم نتلق اختيارك.</voice></prompt><goto next="#verb4"/></block></form>
            <form id="verb4"><block><submit next="https://940.example/voice/menu?call=CA1f2e&amp;retry=1" method="post" namelist="CallSid From"/></block></form>
            </vxml>"##]]
        .assert_eq(&xml);
        assert_eq!(parse(&xml), Ok(arabic_menu()));
    }

    #[test]
    fn every_verb_reads_back_without_what_voicexml_cannot_carry() {
        let session = vec![("CallSid".to_string(), "CA'1\\2\n\t".to_string())];
        for verb in every_verb() {
            for next in [None, Some(Verb::Hangup)] {
                let dialog = Dialog { language: "ar-SA".into(), session: session.clone(), verbs: [Some(verb.clone()), next].into_iter().flatten().collect() };
                let xml = render(&dialog);
                assert_well_formed(&xml);
                let expected = Dialog { verbs: dialog.portable().verbs, ..dialog };
                assert_eq!(parse(&xml), Ok(expected), "{xml}");
            }
        }
    }

    #[test]
    fn an_empty_dialog_is_one_empty_form() {
        let xml = render(&Dialog::new("", vec![]));
        assert_well_formed(&xml);
        assert!(xml.contains("<form id=\"verb1\"/>"), "{xml}");
        assert_eq!(parse(&xml), Ok(Dialog::default()));
    }

    #[test]
    fn queues_and_numbers_are_told_apart_by_the_transfer_destination() {
        let xml = render(&Dialog::new(
            "",
            vec![Verb::Enqueue { queue: "agents".into(), wait_url: None, action: None }, Verb::Dial { number: "+9661".into(), action: None }],
        ));
        assert!(
            xml.contains("<transfer name=\"QueueResult\" dest=\"queue:agents\" bridge=\"true\"><filled><goto next=\"#verb2\"/></filled></transfer>"),
            "{xml}"
        );
        assert!(xml.contains("<transfer name=\"DialCallStatus\" dest=\"tel:+9661\" bridge=\"true\"><filled></filled></transfer>"), "{xml}");
    }

    #[test]
    fn documents_that_are_not_such_a_flow_are_errors_naming_the_problem() {
        fn check(body: &str, expected: &str) {
            let xml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><vxml version=\"2.1\" xmlns=\"http://www.w3.org/2001/vxml\">{body}</vxml>");
            let error = parse(&xml).map_err(|error| error.to_string());
            assert!(matches!(&error, Err(message) if message.contains(expected)), "{body:?} gave {error:?}, expected {expected:?}");
        }
        let say = "<block><prompt>hi</prompt></block>";
        check("<form id=\"a\"><block><prompt>hi</block></form>", "expected `</prompt>`, but `</block>` was found");
        check("<form id=\"a\"><block><prompt>&bogus;</prompt></block></form>", "unknown entity `&bogus;`");
        check("<form id=\"a\"><block><prompt>hi</prompt></block></form></vxml><vxml>", "a second root element <vxml>");
        check("<form id=\"a\"><block><prompt>hi</prompt></block></form><form>", "expected `</form>`, but `</vxml>` was found");
        check("stray", "unexpected text \"stray\" in <vxml>");
        check("<menu/>", "unsupported element <menu> in <vxml>");
        check("<var name=\"CallSid\" expr=\"CA1\"/>", "invalid expr \"CA1\" in <var>: expected a quoted string literal");
        check("<var name=\"CallSid\" expr=\"'a\\q'\"/>", "invalid expr");
        check("<var expr=\"'a'\"/>", "<var> lacks the name attribute");
        check(&format!("<form id=\"a\">{say}{say}</form>"), "form \"a\" holds 2 form items, expected one");
        check(&format!("<form id=\"a\">{say}</form><form id=\"b\">{say}</form>"), "form \"a\" does not go on to \"#b\"");
        check(
            "<form id=\"a\"><block><prompt>hi</prompt><goto next=\"#c\"/></block></form><form id=\"b\"><block><disconnect/></block></form>",
            "form \"a\" goes on to \"#c\", expected \"#b\"",
        );
        check("<form id=\"a\"><block><goto next=\"#a\"/></block></form>", "<block> lacks a prompt, submit or disconnect");
        check("<form id=\"a\"><block><prompt>a</prompt><prompt>b</prompt></block></form>", "<block> holds more than one prompt, submit or disconnect");
        check("<form id=\"a\"><block><prompt><audio src=\"x.wav\"/></prompt></block></form>", "unsupported element <audio> in <prompt>");
        check("<form id=\"a\"><block><prompt><break time=\"500ms\"/></prompt></block></form>", "invalid time \"500ms\" in <break>: expected whole seconds");
        check("<form id=\"a\"><subdialog/></form>", "unsupported element <subdialog> in <form>");
        check(
            "<form id=\"a\"><field name=\"Digits\"><grammar src=\"builtin:dtmf/digits?length=1\"/></field></form>",
            "<field> lacks a <filled> with a <submit>",
        );
        check(
            "<form id=\"a\"><field name=\"Digits\"><grammar src=\"builtin:dtmf/boolean\"/></field></form>",
            "invalid src \"builtin:dtmf/boolean\" in <grammar>",
        );
        check(
            "<form id=\"a\"><field name=\"Digits\"><property name=\"bargein\" value=\"false\"/></field></form>",
            "invalid property \"bargein\" in <property>",
        );
        check("<form id=\"a\"><field><property name=\"termchar\" value=\"##\"/></field></form>", "invalid key \"##\" in <property>");
        check("<form id=\"a\"><field><filled><submit next=\"/x\"/><submit next=\"/y\"/></filled></field></form>", "unsupported element <submit> in <filled>");
        check("<form id=\"a\"><field><catch event=\"noinput\"><reprompt/></catch></field></form>", "unsupported element <reprompt> in <catch>");
        check("<form id=\"a\"><record maxtime=\"60s\"><filled><submit next=\"/r\"/></filled></record></form>", "<record> lacks the finalsilence attribute");
        check(
            "<form id=\"a\"><transfer dest=\"mailto:ops@940.example\"/></form>",
            "invalid dest \"mailto:ops@940.example\" in <transfer>: expected a tel:, sip:, sips: or queue: URI",
        );
        check("<form id=\"a\"><transfer/></form>", "<transfer> lacks the dest attribute");
    }

    #[test]
    fn a_document_that_is_not_voicexml_is_an_error_naming_its_root() {
        assert_eq!(parse("<Response/>").map_err(|error| error.to_string()), Err("the root element is <Response>, expected <vxml>".to_string()));
    }
}
