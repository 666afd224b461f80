//! The Parsing Canonical Form of a schema and its CRC-64-AVRO fingerprint, as the Avro
//! specification defines them ("Parsing Canonical Form for Schemas", "Schema
//! Fingerprints"), computed from the schema's JSON text.
//!
//! apache-avro 0.17 keeps a logical type's primitive as `{"type":"string"}` in its
//! canonical form where the specification (and Java's `SchemaNormalization`, which Kafka
//! ecosystems use) reduces it to `"string"`, so no other library found its fingerprints.

use serde_json::{Map, Value};

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// A schema's JSON cannot be put in canonical form.
#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    /// The text is not JSON.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A construct the specification does not allow.
    #[error("{0}")]
    Invalid(String),
}

/// The Parsing Canonical Form of the schema in `text`: primitives in their simple form,
/// full names, only the attributes that matter to parsing in the specification's order,
/// no whitespace; a named type after its first definition is its full name.
pub fn parsing_canonical_form(text: &str) -> Result<String, CanonicalError> {
    let schema: Value = serde_json::from_str(text)?;
    let mut out = String::new();
    Canonical::default().write(&schema, "", &mut out)?;
    Ok(out)
}

/// CRC-64-AVRO (the specification's 64-bit Rabin fingerprint) of `bytes`, little-endian as
/// single-object encoding writes it.
pub fn crc64_avro(bytes: &[u8]) -> [u8; 8] {
    const EMPTY: u64 = 0xc15d_213a_a4d7_a795;
    static TABLE: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0_u64; 256];
        for (i, entry) in table.iter_mut().enumerate() {
            let mut fp = i as u64;
            for _ in 0..8 {
                fp = (fp >> 1) ^ (EMPTY & 0_u64.wrapping_sub(fp & 1));
            }
            *entry = fp;
        }
        table
    });
    let fp = bytes.iter().fold(EMPTY, |fp, &b| {
        (fp >> 8) ^ table[((fp ^ u64::from(b)) & 0xff) as usize]
    });
    fp.to_le_bytes()
}

#[derive(Default)]
struct Canonical {
    /// Full names already defined: later occurrences are written as the name alone.
    defined: std::collections::HashSet<String>,
}

impl Canonical {
    fn write(
        &mut self,
        schema: &Value,
        namespace: &str,
        out: &mut String,
    ) -> Result<(), CanonicalError> {
        match schema {
            Value::String(name) => {
                let name = if PRIMITIVES.contains(&name.as_str()) {
                    name.clone()
                } else {
                    full_name(name, None, namespace)
                };
                out.push_str(&quoted(&name));
            }
            Value::Array(branches) => {
                out.push('[');
                for (i, branch) in branches.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.write(branch, namespace, out)?;
                }
                out.push(']');
            }
            Value::Object(object) => self.write_object(object, namespace, out)?,
            other => return Err(CanonicalError::Invalid(format!("{other} is not a schema"))),
        }
        Ok(())
    }

    fn write_object(
        &mut self,
        object: &Map<String, Value>,
        namespace: &str,
        out: &mut String,
    ) -> Result<(), CanonicalError> {
        let kind = match object.get("type") {
            Some(Value::String(kind)) => kind.as_str(),
            // `{"type": <schema>}`: the schema it wraps.
            Some(inner) => return self.write(inner, namespace, out),
            None => return Err(CanonicalError::Invalid("an object without \"type\"".into())),
        };
        let field = |name: &str| {
            object
                .get(name)
                .ok_or_else(|| CanonicalError::Invalid(format!("a {kind} without {name:?}")))
        };
        match kind {
            // A primitive, with a logical type or any other attribute: its simple form.
            _ if PRIMITIVES.contains(&kind) => out.push_str(&quoted(kind)),
            "array" => {
                out.push_str(r#"{"type":"array","items":"#);
                self.write(field("items")?, namespace, out)?;
                out.push('}');
            }
            "map" => {
                out.push_str(r#"{"type":"map","values":"#);
                self.write(field("values")?, namespace, out)?;
                out.push('}');
            }
            "record" | "error" | "enum" | "fixed" => {
                let name = field("name")?.as_str().ok_or_else(|| {
                    CanonicalError::Invalid(format!("a {kind}'s name is not a string"))
                })?;
                let declared = object.get("namespace").and_then(Value::as_str);
                let full = full_name(name, declared, namespace);
                if !self.defined.insert(full.clone()) {
                    out.push_str(&quoted(&full));
                    return Ok(());
                }
                let inner = full.rsplit_once('.').map_or("", |(ns, _)| ns).to_owned();
                out.push_str(&format!(
                    r#"{{"name":{},"type":{}"#,
                    quoted(&full),
                    quoted(kind)
                ));
                match kind {
                    "enum" => {
                        out.push_str(r#","symbols":"#);
                        out.push_str(&serde_json::to_string(field("symbols")?)?);
                    }
                    "fixed" => {
                        let size = field("size")?.as_u64().ok_or_else(|| {
                            CanonicalError::Invalid(format!("{full}: size is not a whole number"))
                        })?;
                        out.push_str(&format!(r#","size":{size}"#));
                    }
                    _ => {
                        out.push_str(r#","fields":["#);
                        let fields = field("fields")?.as_array().ok_or_else(|| {
                            CanonicalError::Invalid(format!("{full}: fields is not a list"))
                        })?;
                        for (i, f) in fields.iter().enumerate() {
                            if i > 0 {
                                out.push(',');
                            }
                            let (Some(name), Some(schema)) =
                                (f.get("name").and_then(Value::as_str), f.get("type"))
                            else {
                                return Err(CanonicalError::Invalid(format!(
                                    "{full}: a field without a name or type"
                                )));
                            };
                            out.push_str(&format!(r#"{{"name":{},"type":"#, quoted(name)));
                            self.write(schema, &inner, out)?;
                            out.push('}');
                        }
                        out.push(']');
                    }
                }
                out.push('}');
            }
            other => return Err(CanonicalError::Invalid(format!("unknown type {other:?}"))),
        }
        Ok(())
    }
}

/// `name` in full: as it is when it has a dot, else in its declared namespace or the
/// enclosing one.
fn full_name(name: &str, declared: Option<&str>, enclosing: &str) -> String {
    if name.contains('.') {
        return name.to_owned();
    }
    match declared.unwrap_or(enclosing) {
        "" => name.to_owned(),
        namespace => format!("{namespace}.{name}"),
    }
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(text: &str) -> u64 {
        u64::from_le_bytes(crc64_avro(parsing_canonical_form(text).unwrap().as_bytes()))
    }

    #[test]
    fn primitives_and_logical_types_reduce_to_their_simple_form() {
        assert_eq!(
            parsing_canonical_form(r#"{"type": "int"}"#).unwrap(),
            r#""int""#
        );
        assert_eq!(
            parsing_canonical_form(r#"{"type": "string", "logicalType": "uuid"}"#).unwrap(),
            r#""string""#
        );
        assert_eq!(
            parsing_canonical_form(r#"{"type":"long","logicalType":"timestamp-millis"}"#).unwrap(),
            r#""long""#
        );
        // As the specification's reference implementations fingerprint them.
        assert_eq!(fingerprint(r#""null""#), 0x63dd_24e7_cc25_8f8a);
        assert_eq!(fingerprint(r#""int""#), 0x7275_d51a_3f39_5c8f);
        assert_eq!(fingerprint(r#""string""#), 0x8f01_4872_6345_03c7);
    }

    #[test]
    fn names_are_full_attributes_ordered_and_definitions_written_once() {
        let text = r#"{"doc": "x", "namespace": "bazaar.t", "type": "record", "name": "Outer",
            "fields": [
              {"name": "a", "type": {"type": "enum", "name": "Mode", "symbols": ["x", "y"], "doc": "d"}},
              {"name": "b", "default": null, "type": ["null", "Mode"]},
              {"name": "c", "type": {"type": "map", "values": {"type": "array", "items": "long"}}},
              {"name": "d", "type": {"type": "fixed", "name": "other.Hash", "size": 16}},
              {"name": "e", "type": {"type": "record", "name": "Inner", "fields": []}}
            ]}"#;
        assert_eq!(
            parsing_canonical_form(text).unwrap(),
            concat!(
                r#"{"name":"bazaar.t.Outer","type":"record","fields":["#,
                r#"{"name":"a","type":{"name":"bazaar.t.Mode","type":"enum","symbols":["x","y"]}},"#,
                r#"{"name":"b","type":["null","bazaar.t.Mode"]},"#,
                r#"{"name":"c","type":{"type":"map","values":{"type":"array","items":"long"}}},"#,
                r#"{"name":"d","type":{"name":"other.Hash","type":"fixed","size":16}},"#,
                r#"{"name":"e","type":{"name":"bazaar.t.Inner","type":"record","fields":[]}}]}"#
            )
        );
    }
}
