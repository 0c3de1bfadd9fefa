//! Whether a text is already canonical JSON (`util::json::value_to_canonical_pretty`'s bytes: keys
//! sorted at every level, serde_json's pretty layout, one final newline), decided in one pass
//! over the text without building the document. `show` and `apply` check every plan file this
//! way: an 11 MB plan as a `serde_json::Value` took 100 ms to build, 45 ms to write out for the
//! comparison and 50 ms to free, one after the other.
//!
//! The pass re-writes each token the way serde_json writes a parsed `Value` (the same escaping,
//! the same number formatting) and compares as it goes; object keys must be strictly increasing,
//! which also refuses a duplicate key (a `Value` keeps only the last of them).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// What one pass over a JSON text found.
#[derive(Debug, Default)]
pub struct CanonicalRead {
    /// The text is exactly the canonical form of the JSON it holds.
    pub canonical: bool,
    /// The top level's string and non-negative integer members named in `read_canonical`'s
    /// `keep` (`format`, `digest`, ...), as read; other types are left out.
    pub top: Vec<(String, TopValue)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TopValue {
    Str(String),
    U64(u64),
}

impl CanonicalRead {
    pub fn str(&self, key: &str) -> Option<&str> {
        self.top.iter().find_map(|(k, v)| match v {
            TopValue::Str(s) if k == key => Some(s.as_str()),
            _ => None,
        })
    }

    pub fn u64(&self, key: &str) -> Option<u64> {
        self.top.iter().find_map(|(k, v)| match v {
            TopValue::U64(n) if k == key => Some(*n),
            _ => None,
        })
    }
}

/// Reads `text` once: an error when it is not JSON at all (serde_json's own message), else
/// whether it is canonical and the top-level members `keep` names.
pub fn read_canonical(text: &str, keep: &[&str]) -> Result<CanonicalRead, serde_json::Error> {
    let mut out = Compare {
        rest: text.as_bytes(),
        equal: true,
    };
    let mut top = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    Token {
        out: &mut out,
        depth: 0,
        prefix: "",
        keep,
        top: Some(&mut top),
        record: None,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(CanonicalRead {
        canonical: out.equal && out.rest == b"\n",
        top,
    })
}

/// Compares what is written with the text, byte by byte, remembering only whether it matched.
struct Compare<'t> {
    rest: &'t [u8],
    equal: bool,
}

impl Compare<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if self.equal {
            match self.rest.strip_prefix(bytes) {
                Some(rest) => self.rest = rest,
                None => self.equal = false,
            }
        }
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.put(b"  ");
        }
    }

    /// A scalar as serde_json writes it (strings escaped, numbers formatted as a `Value`'s).
    fn scalar<T: serde::Serialize + ?Sized>(&mut self, v: &T) {
        if self.equal {
            let mut buf = Vec::with_capacity(16);
            serde_json::to_writer(&mut buf, v).expect("scalars serialize");
            self.put(&buf);
        }
    }
}

/// One JSON value at `depth`, written after `prefix` (the separator and indentation its
/// container owes it, written only once the value is there).
struct Token<'a, 't> {
    out: &'a mut Compare<'t>,
    depth: usize,
    prefix: &'static str,
    keep: &'a [&'a str],
    /// Set for the top-level value only: where its kept members go.
    top: Option<&'a mut Vec<(String, TopValue)>>,
    /// Set for a kept top-level member: where its value goes.
    record: Option<(&'a str, &'a mut Vec<(String, TopValue)>)>,
}

impl Token<'_, '_> {
    fn start(&mut self) {
        self.out.put(self.prefix.as_bytes());
        if !self.prefix.is_empty() {
            self.out.indent(self.depth);
        }
    }

    fn keep(&mut self, v: TopValue) {
        if let Some((key, top)) = self.record.take() {
            top.push((key.to_string(), v));
        }
    }
}

impl<'de> DeserializeSeed<'de> for Token<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Token<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(mut self, v: bool) -> Result<(), E> {
        self.start();
        self.out.scalar(&v);
        Ok(())
    }

    fn visit_i64<E>(mut self, v: i64) -> Result<(), E> {
        self.start();
        self.out.scalar(&v);
        Ok(())
    }

    fn visit_u64<E>(mut self, v: u64) -> Result<(), E> {
        self.start();
        self.out.scalar(&v);
        self.keep(TopValue::U64(v));
        Ok(())
    }

    fn visit_f64<E>(mut self, v: f64) -> Result<(), E> {
        self.start();
        self.out.scalar(&v);
        Ok(())
    }

    fn visit_str<E>(mut self, v: &str) -> Result<(), E> {
        self.start();
        self.out.scalar(v);
        self.keep(TopValue::Str(v.to_string()));
        Ok(())
    }

    fn visit_unit<E>(mut self) -> Result<(), E> {
        self.start();
        self.out.put(b"null");
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.start();
        self.out.put(b"[");
        let mut n = 0usize;
        loop {
            let element = Token {
                out: &mut *self.out,
                depth: self.depth + 1,
                prefix: if n == 0 { "\n" } else { ",\n" },
                keep: &[],
                top: None,
                record: None,
            };
            if seq.next_element_seed(element)?.is_none() {
                break;
            }
            n += 1;
        }
        self.close(n, b"]");
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.start();
        self.out.put(b"{");
        let mut n = 0usize;
        let mut previous: Option<std::borrow::Cow<'de, str>> = None;
        let mut top = self.top.take();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            // Sorted and unique, as `Sorted` writes a map.
            if previous.as_deref().is_some_and(|p| p >= key.as_ref()) {
                self.out.equal = false;
            }
            self.out.put(if n == 0 { b"\n" } else { b",\n" });
            self.out.indent(self.depth + 1);
            self.out.scalar(key.as_ref());
            self.out.put(b": ");
            let kept = self.keep.iter().find(|k| **k == key.as_ref()).copied();
            let record = match (kept, top.as_deref_mut()) {
                (Some(k), Some(top)) => Some((k, top)),
                _ => None,
            };
            map.next_value_seed(Token {
                out: &mut *self.out,
                depth: self.depth + 1,
                prefix: "",
                keep: &[],
                top: None,
                record,
            })?;
            previous = Some(key);
            n += 1;
        }
        self.close(n, b"}");
        Ok(())
    }
}

impl Token<'_, '_> {
    fn close(&mut self, n: usize, bracket: &[u8]) {
        if n > 0 {
            self.out.put(b"\n");
            self.out.indent(self.depth);
        }
        self.out.put(bracket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::json::value_to_canonical_pretty;
    use serde_json::json;

    /// Canonical exactly when `value_to_canonical_pretty` of the parsed text gives the text.
    #[test]
    fn agrees_with_writing_the_parsed_value() {
        let value = json!({
            "a": [], "b": {}, "c": [1, -2, 3.5, 1e300, true, null, "x\"\n\u{1}é"],
            "d": {"k": [{"z": 1, "y": [[], {}]}]}, "digest": "sha256:00", "format_version": 3,
        });
        let canonical = value_to_canonical_pretty(&value);
        let read = read_canonical(&canonical, &["digest", "format_version", "a"]).unwrap();
        assert!(read.canonical);
        assert_eq!(read.str("digest"), Some("sha256:00"));
        assert_eq!(read.u64("format_version"), Some(3));
        assert_eq!(read.top.len(), 2, "only strings and integers are kept");

        let variants = [
            canonical.trim_end().to_string(),                 // no final newline
            format!("{canonical}\n"),                         // two
            canonical.replacen("\"a\": []", "\"a\": [ ]", 1), // spacing
            canonical.replacen("3.5", "3.50", 1),             // number form
            canonical
                .replacen("\"b\": {},\n", "", 1)
                .replacen("{\n", "{\n  \"b\": {},\n", 1), // same
            serde_json::to_string(&value).unwrap() + "\n",    // compact
            canonical.replacen("\\\"", "\\u0022", 1),         // escape form
        ];
        for text in variants {
            let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
            let expected = value_to_canonical_pretty(&parsed) == text;
            assert_eq!(
                read_canonical(&text, &[]).unwrap().canonical,
                expected,
                "{text}"
            );
        }
        // Keys out of order or repeated: never canonical.
        let swapped = "{\n  \"b\": 1,\n  \"a\": 2\n}\n";
        assert!(!read_canonical(swapped, &[]).unwrap().canonical);
        let repeated = "{\n  \"a\": 1,\n  \"a\": 2\n}\n";
        assert!(!read_canonical(repeated, &[]).unwrap().canonical);
        assert!(read_canonical("{\"a\": ", &[]).is_err());
        assert!(read_canonical("{} x", &[]).is_err());
    }
}
