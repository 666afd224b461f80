//! Embeds every `avro/*.avsc` file so the binary carries the whole catalogue, and
//! generates one Rust type per event type and version from them (`events.rs`): writers
//! and readers use those types, so a field added to a schema and not to its writers fails
//! to compile.

use std::{collections::BTreeMap, env, fmt::Write as _, fs, path::Path};

use serde_json::Value;

fn main() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("avro");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("schemas/avro exists")
        .map(|entry| entry.expect("readable schemas/avro").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "avsc"))
        .collect();
    files.sort();
    let mut embedded = String::from("pub(crate) const EMBEDDED: &[(&str, &str)] = &[\n");
    // Per domain, the generated items; and the newest version of each event type.
    let mut domains: BTreeMap<String, String> = BTreeMap::new();
    // Per event type: its newest version, domain, type and nested types.
    type Newest = (u32, String, String, Vec<String>);
    let mut newest: BTreeMap<String, Newest> = BTreeMap::new();
    let mut generated: Vec<((String, u32), String)> = Vec::new();
    for path in files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_str().expect("UTF-8 file name");
        embedded.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
        let stem = name.strip_suffix(".avsc").unwrap();
        let Some((event_type, version)) = stem.rsplit_once(".v") else {
            continue; // the catalogue's own check names the bad file
        };
        let Ok(version) = version.parse::<u32>() else {
            continue;
        };
        let schema: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let domain = event_type.split('.').next().unwrap().to_owned();
        let record = schema["name"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no name"));
        let rust = format!("{record}V{version}");
        let items = domains.entry(domain.clone()).or_default();
        let mut generator = Generator {
            out: items,
            file: name,
            nested: Vec::new(),
        };
        generator.record(&rust, &schema);
        let nested = generator.nested;
        writeln!(
            items,
            "impl crate::Event for {rust} {{\n    const TYPE: &'static str = {event_type:?};\n    const VERSION: u32 = {version};\n}}\n"
        )
        .unwrap();
        generated.push(((event_type.to_owned(), version), rust.clone()));
        let entry = newest.entry(event_type.to_owned()).or_insert((
            0,
            String::new(),
            String::new(),
            Vec::new(),
        ));
        if version > entry.0 {
            *entry = (version, domain, rust, nested);
        }
    }
    embedded.push_str("];\n");
    let out = Path::new(&env::var("OUT_DIR").unwrap()).to_owned();
    fs::write(out.join("embedded.rs"), embedded).unwrap();

    for (event_type, (version, domain, rust, nested)) in &newest {
        let record = rust.strip_suffix(&format!("V{version}")).unwrap();
        let items = domains.get_mut(domain).unwrap();
        writeln!(
            items,
            "/// `{event_type}` at its newest version: the one writers write.\npub type {record} = {rust};\n"
        )
        .unwrap();
        for inner in nested {
            let alias = format!("{record}{}", &inner[rust.len()..]);
            writeln!(
                items,
                "/// [`{inner}`], of the newest version.\npub type {alias} = {inner};\n"
            )
            .unwrap();
        }
    }
    let mut events = String::from(
        "/// Every generated type, as its event type and version, with the check that its schema's\n\
         /// sample reads into it and writes back unchanged (see `Catalogue::check_types`).\n\
         pub(crate) const ALL: &[(&str, u32, crate::TypeCheck)] = &[\n",
    );
    for (event_type, rust) in &generated {
        let (domain, _) = event_type.0.split_once('.').unwrap();
        writeln!(
            events,
            "    ({:?}, {}, crate::check_type::<{domain}::{rust}>),",
            event_type.0, event_type.1
        )
        .unwrap();
    }
    events.push_str("];\n\n");
    for (domain, items) in &domains {
        writeln!(
            events,
            "/// The events of `{domain}.events.v1`.\npub mod {domain} {{\n    #![allow(missing_docs)]\n    use serde::{{Deserialize, Serialize}};\n\n{items}}}\n"
        )
        .unwrap();
    }
    fs::write(out.join("events.rs"), events).unwrap();
}

/// Writes the Rust types of one schema file.
struct Generator<'a> {
    out: &'a mut String,
    file: &'a str,
    /// The nested records' types written so far.
    nested: Vec<String>,
}

impl Generator<'_> {
    /// A struct `rust` for the record `schema`, and the structs of the records it nests
    /// (named after it: `InvoiceIssuedV1Line`).
    fn record(&mut self, rust: &str, schema: &Value) {
        let mut nested = Vec::new();
        let mut fields = String::new();
        for field in schema["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: {rust} has no fields", self.file))
        {
            let name = field["name"].as_str().unwrap();
            if let Some(doc) = field["doc"].as_str() {
                writeln!(fields, "    /// {}", doc.replace('\n', " ")).unwrap();
            }
            let (ty, optional) = self.type_of(rust, &field["type"], &mut nested);
            if optional {
                writeln!(fields, "    #[serde(default)]").unwrap();
            }
            writeln!(fields, "    pub {name}: {ty},").unwrap();
        }
        let doc = schema["doc"]
            .as_str()
            .unwrap_or("A record of an event.")
            .replace('\n', " ");
        writeln!(
            self.out,
            "/// {doc}\n#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]\npub struct {rust} {{\n{fields}}}\n"
        )
        .unwrap();
        for (name, schema) in nested {
            self.nested.push(name.clone());
            self.record(&name, &schema);
        }
    }

    /// The Rust type of an Avro type, and whether it is an optional (null-first union).
    fn type_of(
        &self,
        parent: &str,
        schema: &Value,
        nested: &mut Vec<(String, Value)>,
    ) -> (String, bool) {
        match schema {
            // A record defined earlier in the same record, named again (`"Address"`).
            Value::String(name)
                if nested
                    .iter()
                    .any(|(n, _)| n.strip_prefix(parent) == Some(name)) =>
            {
                (format!("{parent}{name}"), false)
            }
            Value::String(primitive) => (self.primitive(primitive, None), false),
            Value::Array(branches) => {
                let others: Vec<&Value> = branches.iter().filter(|b| *b != "null").collect();
                match (branches.len(), others.as_slice()) {
                    (2, [only]) => (
                        format!("Option<{}>", self.type_of(parent, only, nested).0),
                        true,
                    ),
                    _ => panic!("{}: only [\"null\", T] unions are generated", self.file),
                }
            }
            Value::Object(object) => match object["type"].as_str() {
                Some("record") => {
                    let name = format!("{parent}{}", object["name"].as_str().unwrap());
                    nested.push((name.clone(), schema.clone()));
                    (name, false)
                }
                Some("array") => (
                    format!("Vec<{}>", self.type_of(parent, &object["items"], nested).0),
                    false,
                ),
                Some("map") => (
                    format!(
                        "std::collections::HashMap<String, {}>",
                        self.type_of(parent, &object["values"], nested).0
                    ),
                    false,
                ),
                Some(primitive) => (
                    self.primitive(primitive, object.get("logicalType").and_then(Value::as_str)),
                    false,
                ),
                None => self.type_of(parent, &object["type"], nested),
            },
            other => panic!("{}: {other} is not a type", self.file),
        }
    }

    fn primitive(&self, name: &str, logical: Option<&str>) -> String {
        match (name, logical) {
            ("string", Some("uuid")) => "uuid::Uuid",
            ("string", _) => "String",
            // Milliseconds since the epoch for timestamp-millis, as written.
            ("long", _) => "i64",
            ("int", _) => "i32",
            ("boolean", _) => "bool",
            ("double", _) => "f64",
            ("float", _) => "f32",
            (other, _) => panic!("{}: type {other} is not generated", self.file),
        }
        .to_owned()
    }
}
