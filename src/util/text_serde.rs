//! Serde for values whose text is their identity (addresses, kinds, digests, timestamps): they
//! serialize as their `Display` text and deserialize through their parser, so the file holds
//! exactly what users type and read.

/// `serde_as_text!(Type, parse_fn)`: `Serialize` via `Display`, `Deserialize` via
/// `parse_fn(&str) -> Result<Type, impl Display>`.
macro_rules! serde_as_text {
    ($t:ty, $parse:expr) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                $parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use serde_as_text;
