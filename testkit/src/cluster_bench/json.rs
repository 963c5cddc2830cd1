//! The few JSON objects the cluster benchmark prints (one per line): strings, numbers and
//! nested objects, keys in insertion order. Small enough not to need a JSON crate.

use std::fmt::Write as _;

/// A JSON object under construction.
#[derive(Clone, Debug, Default)]
pub struct Obj {
    fields: Vec<(String, String)>,
}

fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Obj {
    /// An object whose `event` field is `event`.
    pub fn new(event: &str) -> Obj {
        Obj::bare().str("event", event)
    }

    /// An empty object.
    pub fn bare() -> Obj {
        Obj::default()
    }

    /// Adds a string field (replacing one of the same name).
    pub fn str(mut self, key: &str, value: &str) -> Obj {
        let key = quote(key);
        self.fields.retain(|(k, _)| *k != key);
        self.fields.push((key, quote(value)));
        self
    }

    /// Adds a number field (`null` if not finite).
    pub fn num(mut self, key: &str, value: f64) -> Obj {
        let text = if value.is_finite() {
            format!("{value}")
        } else {
            "null".to_string()
        };
        self.fields.push((quote(key), text));
        self
    }

    /// Adds an object field.
    pub fn obj(mut self, key: &str, value: Obj) -> Obj {
        self.fields.push((quote(key), value.render()));
        self
    }

    /// The object as one line of JSON.
    pub fn render(&self) -> String {
        let body: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        format!("{{{}}}", body.join(", "))
    }
}
