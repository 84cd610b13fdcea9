//! TwiML documents, as Twilio-compatible voice platforms read them: a `<Response>` of verbs
//! (`Say`, `Gather`, `Redirect`, `Enqueue`, `Dial`, `Hangup`), written with the XML declaration and
//! every text and attribute escaped.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// One TwiML verb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    Say {
        language: &'static str,
        voice: Option<String>,
        text: String,
    },
    /// Collects keys, posting them to `action`; plays `prompts` while waiting.
    Gather {
        action: String,
        num_digits: u32,
        timeout_seconds: u32,
        prompts: Vec<Verb>,
    },
    Redirect(String),
    Enqueue(String),
    Dial(String),
    Hangup,
}

/// A TwiML response document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Twiml(pub Vec<Verb>);

impl Twiml {
    pub fn to_xml(&self) -> String {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>");
        for verb in &self.0 {
            write_verb(&mut xml, verb);
        }
        xml.push_str("</Response>");
        xml
    }
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

fn write_verb(xml: &mut String, verb: &Verb) {
    match verb {
        Verb::Say { language, voice, text } => {
            let voice = voice.as_ref().map(|v| format!(" voice=\"{}\"", escape(v))).unwrap_or_default();
            xml.push_str(&format!("<Say language=\"{language}\"{voice}>{}</Say>", escape(text)));
        }
        Verb::Gather { action, num_digits, timeout_seconds, prompts } => {
            xml.push_str(&format!(
                "<Gather input=\"dtmf\" numDigits=\"{num_digits}\" timeout=\"{timeout_seconds}\" action=\"{}\" method=\"POST\">",
                escape(action)
            ));
            for prompt in prompts {
                write_verb(xml, prompt);
            }
            xml.push_str("</Gather>");
        }
        Verb::Redirect(url) => xml.push_str(&format!("<Redirect method=\"POST\">{}</Redirect>", escape(url))),
        Verb::Enqueue(queue) => xml.push_str(&format!("<Enqueue>{}</Enqueue>", escape(queue))),
        Verb::Dial(number) => xml.push_str(&format!("<Dial>{}</Dial>", escape(number))),
        Verb::Hangup => xml.push_str("<Hangup/>"),
    }
}

impl IntoResponse for Twiml {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "application/xml; charset=utf-8")], self.to_xml()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_menu_is_written_as_twilio_reads_it() {
        let twiml = Twiml(vec![
            Verb::Gather {
                action: "https://940.example/voice/updates/7/menu?a=1&b=2".into(),
                num_digits: 1,
                timeout_seconds: 8,
                prompts: vec![Verb::Say { language: "ar-SA", voice: None, text: "بلاغ <رقم> 1 & 2".into() }],
            },
            Verb::Hangup,
        ]);
        expect_test::expect![[r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" numDigits="1" timeout="8" action="https://940.example/voice/updates/7/menu?a=1&amp;b=2" method="POST"><Say language="ar-SA">بلاغ &lt;رقم&gt; 1 &amp; 2</Say></Gather><Hangup/></Response>"#]]
        .assert_eq(&twiml.to_xml());
    }
}
