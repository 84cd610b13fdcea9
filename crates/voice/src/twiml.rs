//! TwiML, as Twilio and the compatible voice platforms (SignalWire, Telnyx TeXML) read it: a
//! `<Response>` of verbs, written with the XML declaration and every text and attribute escaped,
//! and read back into a `Dialog`.

use crate::dialog::{Dialog, Verb};
use crate::markup::{Element, MarkupError, read_document};

/// The TwiML document for `dialog`.
pub fn render(dialog: &Dialog) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>");
    for verb in &dialog.verbs {
        write_verb(&mut xml, verb);
    }
    xml.push_str("</Response>");
    xml
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

fn attribute(name: &str, value: Option<&str>) -> String {
    value.map(|v| format!(" {name}=\"{}\"", escape(v))).unwrap_or_default()
}

fn write_verb(xml: &mut String, verb: &Verb) {
    match verb {
        Verb::Say { language, voice, text } => {
            xml.push_str(&format!("<Say language=\"{}\"{}>{}</Say>", escape(language), attribute("voice", voice.as_deref()), escape(text)));
        }
        Verb::Gather { action, num_digits, finish_on_key, timeout_seconds, prompts } => {
            let num_digits = num_digits.map(|n| format!(" numDigits=\"{n}\"")).unwrap_or_default();
            let finish = finish_on_key.map(|k| format!(" finishOnKey=\"{}\"", escape(&k.to_string()))).unwrap_or_default();
            xml.push_str(&format!("<Gather input=\"dtmf\"{num_digits}{finish} timeout=\"{timeout_seconds}\" action=\"{}\" method=\"POST\">", escape(action)));
            for prompt in prompts {
                write_verb(xml, prompt);
            }
            xml.push_str("</Gather>");
        }
        Verb::Record { action, max_length_seconds, timeout_seconds, finish_on_key, transcribe_callback } => {
            let transcribe = match transcribe_callback {
                Some(url) => format!(" transcribe=\"true\" transcribeCallback=\"{}\"", escape(url)),
                None => String::new(),
            };
            xml.push_str(&format!(
                "<Record action=\"{}\" method=\"POST\" maxLength=\"{max_length_seconds}\" timeout=\"{timeout_seconds}\" finishOnKey=\"{}\" playBeep=\"true\"{transcribe}/>",
                escape(action),
                escape(&finish_on_key.to_string())
            ));
        }
        Verb::Pause(seconds) => xml.push_str(&format!("<Pause length=\"{seconds}\"/>")),
        Verb::Redirect(url) => xml.push_str(&format!("<Redirect method=\"POST\">{}</Redirect>", escape(url))),
        Verb::Enqueue { queue, wait_url, action } => {
            let wait = wait_url.as_deref().map(|u| format!(" waitUrl=\"{}\" waitUrlMethod=\"POST\"", escape(u))).unwrap_or_default();
            let action = action.as_deref().map(|u| format!(" action=\"{}\" method=\"POST\"", escape(u))).unwrap_or_default();
            xml.push_str(&format!("<Enqueue{wait}{action}>{}</Enqueue>", escape(queue)));
        }
        Verb::Dial { number, action } => {
            let action = action.as_deref().map(|u| format!(" action=\"{}\" method=\"POST\"", escape(u))).unwrap_or_default();
            let target = if number.starts_with("sip:") { format!("<Sip>{}</Sip>", escape(number)) } else { escape(number) };
            xml.push_str(&format!("<Dial{action}>{target}</Dial>"));
        }
        Verb::Hangup => xml.push_str("<Hangup/>"),
    }
}

/// Reads a TwiML document back into a `Dialog`: what `render` writes, and the variants Twilio
/// accepts (any attribute order and whitespace, Twilio's defaults for absent attributes, `<Dial>`
/// with a `<Number>` or `<Sip>` noun or a bare number, `<Say>` without language).
///
/// TwiML has no document language or session: `language` is the first `<Say language>`, and
/// `session` is empty. Attributes the `Dialog` does not model (`method`, `loop`, `playBeep`) are
/// ignored; verbs and nouns it does not model are errors naming the element.
pub fn parse(xml: &str) -> Result<Dialog, MarkupError> {
    let root = read_document(xml)?.root("Response")?;
    let verbs = root.elements()?.into_iter().map(|element| read_verb(element, "Response")).collect::<Result<Vec<_>, _>>()?;
    let language = first_language(&verbs).unwrap_or_default().to_string();
    Ok(Dialog { language, session: Vec::new(), verbs })
}

fn first_language(verbs: &[Verb]) -> Option<&str> {
    verbs.iter().find_map(|verb| match verb {
        Verb::Say { language, .. } if !language.is_empty() => Some(language.as_str()),
        Verb::Gather { prompts, .. } => first_language(prompts),
        _ => None,
    })
}

fn read_verb(element: &Element, parent: &str) -> Result<Verb, MarkupError> {
    let optional = |name: &str| element.attribute(name).map(str::to_string);
    let action = || element.attribute("action").unwrap_or_default().to_string();
    Ok(match element.name.as_str() {
        "Say" => Verb::Say { language: optional("language").unwrap_or_default(), voice: optional("voice"), text: element.text()? },
        "Gather" => {
            if let Some(input) = element.attribute("input")
                && input.trim() != "dtmf"
            {
                return Err(element.invalid("input", input, "\"dtmf\", the only input a dialog gathers"));
            }
            let prompts = element.elements()?.into_iter().map(|prompt| match prompt.name.as_str() {
                "Say" | "Pause" => read_verb(prompt, "Gather"),
                _ => Err(prompt.unsupported_in("Gather")),
            });
            Verb::Gather {
                action: action(),
                num_digits: element.optional_number("numDigits")?,
                finish_on_key: element.attribute("finishOnKey").map(|key| single_key(element, key)).transpose()?,
                timeout_seconds: element.number("timeout", 5)?,
                prompts: prompts.collect::<Result<_, _>>()?,
            }
        }
        "Record" => {
            element.empty()?;
            let transcribe = element.attribute("transcribe").is_none_or(|transcribe| transcribe.trim() != "false");
            Verb::Record {
                action: action(),
                max_length_seconds: element.number("maxLength", 3600)?,
                timeout_seconds: element.number("timeout", 5)?,
                // Twilio ends a recording on any key by default; a dialog names one, and '#' is the usual.
                finish_on_key: element.attribute("finishOnKey").map(|key| single_key(element, key)).transpose()?.unwrap_or('#'),
                transcribe_callback: optional("transcribeCallback").filter(|_| transcribe),
            }
        }
        "Pause" => {
            element.empty()?;
            Verb::Pause(element.number("length", 1)?)
        }
        "Redirect" => Verb::Redirect(element.text()?.trim().to_string()),
        "Enqueue" => Verb::Enqueue { queue: element.text()?.trim().to_string(), wait_url: optional("waitUrl"), action: optional("action") },
        "Dial" => {
            let nouns = if element.has_elements() { element.elements()? } else { Vec::new() };
            let number = match nouns.as_slice() {
                [] => element.text()?,
                [noun] if noun.name == "Number" || noun.name == "Sip" => noun.text()?,
                [noun] => return Err(noun.unsupported_in("Dial")),
                [_, second, ..] => return Err(second.unsupported_in("Dial")),
            };
            Verb::Dial { number: number.trim().to_string(), action: optional("action") }
        }
        "Hangup" => {
            element.empty()?;
            Verb::Hangup
        }
        _ => return Err(element.unsupported_in(parent)),
    })
}

fn single_key(element: &Element, key: &str) -> Result<char, MarkupError> {
    let mut characters = key.chars();
    match (characters.next(), characters.next()) {
        (Some(character), None) => Ok(character),
        _ => Err(element.invalid("finishOnKey", key, "a single key")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markup::testing::{assert_well_formed, every_verb};

    #[test]
    fn a_menu_is_written_as_twilio_reads_it() {
        let dialog = Dialog::new(
            "ar-SA",
            vec![
                Verb::Gather {
                    action: "https://940.example/voice/updates/7/menu?a=1&b=2".into(),
                    num_digits: Some(1),
                    finish_on_key: None,
                    timeout_seconds: 8,
                    prompts: vec![Verb::Say { language: "ar-SA".into(), voice: None, text: "بلاغ <رقم> 1 & 2".into() }],
                },
                Verb::Hangup,
            ],
        );
        expect_test::expect![[r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" numDigits="1" timeout="8" action="https://940.example/voice/updates/7/menu?a=1&amp;b=2" method="POST"><Say language="ar-SA">بلاغ &lt;رقم&gt; 1 &amp; 2</Say></Gather><Hangup/></Response>"#]]
        .assert_eq(&render(&dialog));
    }

    #[test]
    fn every_verb_reads_back_as_written() {
        for verb in every_verb() {
            let dialog = Dialog::new("ar-SA", vec![verb]);
            let xml = render(&dialog);
            assert_well_formed(&xml);
            let language = if xml.contains("language=\"ar-SA\"") { "ar-SA" } else { "" };
            assert_eq!(parse(&xml), Ok(Dialog::new(language, dialog.verbs.clone())), "{xml}");
        }
    }

    #[test]
    fn twilio_variants_read_with_twilio_defaults() {
        let xml = r#"<?xml version="1.0"?>
            <Response>
              <Say>Hello</Say>
              <Gather action="/menu" method="GET"><Say voice="alice" language="en-US">Press 1</Say></Gather>
              <Record action="/rec" transcribeCallback="/t"/>
              <Record transcribe="false" transcribeCallback="/t" finishOnKey="*"/>
              <Pause/>
              <Dial action="/after"> <Sip> sip:agent@pbx.example </Sip> </Dial>
              <Dial><Number>+966501234567</Number></Dial>
              <Dial>
                +966112345678
              </Dial>
              <Enqueue waitUrl="/hold">agents</Enqueue>
              <Redirect>
                /start
              </Redirect>
              <Hangup></Hangup>
            </Response>"#;
        let say = |language: &str, voice: Option<&str>, text: &str| Verb::Say { language: language.into(), voice: voice.map(String::from), text: text.into() };
        let record = |action: &str, finish_on_key, transcribe_callback: Option<&str>| Verb::Record {
            action: action.into(),
            max_length_seconds: 3600,
            timeout_seconds: 5,
            finish_on_key,
            transcribe_callback: transcribe_callback.map(String::from),
        };
        let expected = Dialog::new(
            "en-US",
            vec![
                say("", None, "Hello"),
                Verb::Gather {
                    action: "/menu".into(),
                    num_digits: None,
                    finish_on_key: None,
                    timeout_seconds: 5,
                    prompts: vec![say("en-US", Some("alice"), "Press 1")],
                },
                record("/rec", '#', Some("/t")),
                record("", '*', None),
                Verb::Pause(1),
                Verb::Dial { number: "sip:agent@pbx.example".into(), action: Some("/after".into()) },
                Verb::Dial { number: "+966501234567".into(), action: None },
                Verb::Dial { number: "+966112345678".into(), action: None },
                Verb::Enqueue { queue: "agents".into(), wait_url: Some("/hold".into()), action: None },
                Verb::Redirect("/start".into()),
                Verb::Hangup,
            ],
        );
        assert_eq!(parse(xml), Ok(expected));
    }

    #[test]
    fn documents_twilio_would_not_run_as_written_are_errors_naming_the_problem() {
        fn check(xml: &str, expected: &str) {
            let error = parse(xml).map_err(|error| error.to_string());
            assert!(matches!(&error, Err(message) if message.contains(expected)), "{xml:?} gave {error:?}, expected {expected:?}");
        }
        check("", "the document has no root element");
        check("<Response><Say>hi</Gather></Response>", "expected `</Say>`, but `</Gather>` was found");
        check("<Response><Say>a &nbsp; b</Say></Response>", "unknown entity `&nbsp;`");
        check("<Response><Say voice=\"a &bogus; b\">x</Say></Response>", "unrecognized entity `bogus`");
        check("<Response><Say>hi", "unclosed element <Say>");
        check("<Response/>garbage", "text \"garbage\" after the root element");
        check("<Response/><Response/>", "a second root element <Response>");
        check("<Play>x</Play>", "the root element is <Play>, expected <Response>");
        check("<Response><Play>x</Play></Response>", "unsupported element <Play> in <Response>");
        check("<Response>hello</Response>", "unexpected text \"hello\" in <Response>");
        check("<Response><Gather><Record/></Gather></Response>", "unsupported element <Record> in <Gather>");
        check("<Response><Say>a<break/></Say></Response>", "unsupported element <break> in <Say>");
        check("<Response><Gather numDigits=\"one\"/></Response>", "invalid numDigits \"one\" in <Gather>: expected a whole number");
        check("<Response><Gather finishOnKey=\"#*\"/></Response>", "invalid finishOnKey \"#*\" in <Gather>: expected a single key");
        check("<Response><Gather input=\"speech\"/></Response>", "invalid input \"speech\" in <Gather>");
        check("<Response><Pause length=\"-1\"/></Response>", "invalid length \"-1\" in <Pause>");
        check("<Response><Dial><Client>ops</Client></Dial></Response>", "unsupported element <Client> in <Dial>");
        check("<Response><Dial><Number>1</Number><Number>2</Number></Dial></Response>", "unsupported element <Number> in <Dial>");
        check("<Response><Hangup>now</Hangup></Response>", "unexpected text \"now\" in <Hangup>");
    }
}
