//! Text with a maximum length, checked where a request is read: a field declared
//! `Text<64>` refuses a 65-character value with 422 `too_long` naming the field, and the
//! OpenAPI document says `maxLength: 64`.

use std::{borrow::Cow, fmt, ops::Deref};

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{
    openapi::{schema::SchemaType, ObjectBuilder, RefOr, Schema, Type},
    PartialSchema, ToSchema,
};

/// The prefix of the deserialization error the platform's JSON extractor turns into
/// `too_long`.
pub(crate) const TOO_LONG: &str = "too_long: ";

/// A string of at most `MAX` characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
#[serde(transparent)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    /// `text`, if it is no longer than `MAX` characters.
    pub fn new(text: impl Into<String>) -> Option<Self> {
        let text = text.into();
        (text.chars().count() <= MAX).then_some(Self(text))
    }

    /// The string itself.
    pub fn into_inner(self) -> String {
        self.0
    }

    /// The text as a `&str`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> Deref for Text<MAX> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> fmt::Debug for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<const MAX: usize> fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Text<MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::new(text)
            .ok_or_else(|| serde::de::Error::custom(format!("{TOO_LONG}at most {MAX} characters")))
    }
}

impl<const MAX: usize> PartialSchema for Text<MAX> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .max_length(Some(MAX))
            .into()
    }
}

impl<const MAX: usize> ToSchema for Text<MAX> {
    /// `Text64`: one named schema per bound, each with its `maxLength`.
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("Text{MAX}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_held_to_its_length_in_characters() {
        assert!(Text::<3>::new("abc").is_some());
        assert!(Text::<3>::new("अआइ").is_some(), "characters, not bytes");
        assert!(Text::<3>::new("abcd").is_none());
        let refused = serde_json::from_str::<Text<3>>(r#""abcd""#).unwrap_err();
        assert!(refused.to_string().starts_with(TOO_LONG), "{refused}");
    }
}
