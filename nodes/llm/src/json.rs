//! JSON-constrained decoding: the model writes a value of a JSON Schema, and only that.
//!
//! The writer walks the schema and decides the structure itself: braces, keys, commas and
//! quotes are forced into the model's context; the model samples only where the schema leaves a
//! choice, among the tokens that keep the output valid:
//! - string content: tokens whose bytes can sit inside a JSON string; the string ends when the
//!   model picks a token that starts with `"` (once `minLength` is met) or at `maxLength`;
//! - `enum` / `const` / `oneOf` of consts, booleans, small integer ranges: the tokens of the
//!   literals still possible, until one is left;
//! - array length: after `minItems`, a token starting with `,` continues and one starting with
//!   `]` ends, up to `maxItems`.
//!
//! Supported: `type` object (properties in `required` order, then the others), array, string,
//! boolean, integer with `minimum`/`maximum` 0–9; `enum`, `const`, `oneOf`/`anyOf` of consts or
//! of one schema and `null`, `$ref` into the root, `["T", "null"]` types (written as `T`). The
//! output is checked against the schema before it is returned.

use serde_json::Value;

use super::LlmError;
use super::model::Session;
use super::tokenizer::class;

/// The longest string written when the schema gives no `maxLength`.
pub const DEFAULT_MAX_LENGTH: usize = 200;

/// Writes values of one schema.
pub struct JsonWriter<'s, 'a> {
    session: &'s mut Session<'a>,
    root: &'s Value,
    out: String,
    on_text: &'s mut dyn FnMut(&str),
}

/// Writes a value of `schema` with `session`, calling `on_text` with every piece of the output as
/// it is decided; returns the value, checked against the schema.
pub fn write(session: &mut Session<'_>, schema: &Value, on_text: &mut dyn FnMut(&str)) -> Result<Value, LlmError> {
    let validator = jsonschema::validator_for(schema).map_err(|e| LlmError::Schema {
        path: "/".into(),
        message: e.to_string(),
    })?;
    let mut writer = JsonWriter {
        session,
        root: schema,
        out: String::new(),
        on_text,
    };
    writer.value(schema, "")?;
    let text = writer.out;
    let value: Value = serde_json::from_str(&text).map_err(|e| LlmError::Invalid(format!("{e}: {text}")))?;
    if let Some(error) = validator.iter_errors(&value).next() {
        return Err(LlmError::Invalid(format!(
            "{error} at {}: {text}",
            error.instance_path()
        )));
    }
    Ok(value)
}

/// The most characters a value of `schema` can take: a progress scale.
pub fn max_chars(schema: &Value) -> usize {
    fn walk(root: &Value, schema: &Value, depth: usize) -> usize {
        if depth > 32 {
            return 0;
        }
        let schema = resolve(root, schema).unwrap_or(schema);
        if let Some(options) = literals(schema) {
            return options.iter().map(|o| o.to_string().len()).max().unwrap_or(0);
        }
        match primary_type(schema) {
            Some("object") => properties(schema)
                .map(|props| {
                    props
                        .iter()
                        .map(|(k, v)| k.len() + 6 + walk(root, v, depth + 1))
                        .sum::<usize>()
                        + 2
                })
                .unwrap_or(2),
            Some("array") => {
                let items = schema.get("items").map_or(0, |i| walk(root, i, depth + 1));
                uint(schema, "maxItems").unwrap_or(8) * (items + 2) + 2
            }
            Some("string") => uint(schema, "maxLength").unwrap_or(DEFAULT_MAX_LENGTH) + 2,
            _ => 8,
        }
    }
    walk(schema, schema, 0)
}

fn uint(schema: &Value, key: &str) -> Option<usize> {
    schema.get(key).and_then(Value::as_u64).map(|n| n as usize)
}

/// `#/$defs/Name` (or `#/definitions/Name`) in `root`.
fn resolve<'v>(root: &'v Value, schema: &'v Value) -> Option<&'v Value> {
    let reference = schema.get("$ref")?.as_str()?;
    let pointer = reference.strip_prefix('#')?;
    root.pointer(pointer)
}

/// The one non-null type of a schema.
fn primary_type(schema: &Value) -> Option<&str> {
    match schema.get("type")? {
        Value::String(t) => Some(t),
        Value::Array(types) => types.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

/// The literals a schema allows, for `enum`, `const`, `oneOf`/`anyOf` of consts and booleans.
fn literals(schema: &Value) -> Option<Vec<Value>> {
    if let Some(Value::Array(options)) = schema.get("enum") {
        return Some(options.iter().filter(|o| !o.is_null()).cloned().collect());
    }
    if let Some(constant) = schema.get("const") {
        return Some(vec![constant.clone()]);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(options)) = schema.get(key) {
            let consts: Option<Vec<Value>> = options.iter().map(|o| o.get("const").cloned()).collect();
            if consts.is_some() {
                return consts;
            }
        }
    }
    if primary_type(schema) == Some("boolean") {
        return Some(vec![Value::Bool(true), Value::Bool(false)]);
    }
    None
}

/// An object's properties in writing order: `required` first, in its order, then the rest.
fn properties(schema: &Value) -> Option<Vec<(&str, &Value)>> {
    let props = schema.get("properties")?.as_object()?;
    let mut order: Vec<(&str, &Value)> = Vec::with_capacity(props.len());
    if let Some(Value::Array(required)) = schema.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if let Some((key, value)) = props.get_key_value(name) {
                order.push((key.as_str(), value));
            }
        }
    }
    for (key, value) in props {
        if !order.iter().any(|(k, _)| *k == key.as_str()) {
            order.push((key.as_str(), value));
        }
    }
    Some(order)
}

impl JsonWriter<'_, '_> {
    fn unsupported(path: &str, message: impl Into<String>) -> LlmError {
        LlmError::Schema {
            path: if path.is_empty() { "/".into() } else { path.into() },
            message: message.into(),
        }
    }

    /// Writes `text` without asking the model.
    fn force(&mut self, text: &str) -> Result<(), LlmError> {
        self.session.force(text)?;
        self.out.push_str(text);
        (self.on_text)(text);
        Ok(())
    }

    fn value(&mut self, schema: &Value, path: &str) -> Result<(), LlmError> {
        if schema.get("$ref").is_some() {
            let target = resolve(self.root, schema)
                .ok_or_else(|| Self::unsupported(path, "a `$ref` that does not point into the schema"))?;
            return self.value(target, path);
        }
        if let Some(options) = literals(schema) {
            return self.literal(&options, path);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(options)) = schema.get(key) {
                let mut real = options
                    .iter()
                    .filter(|o| o.get("type").and_then(Value::as_str) != Some("null"));
                return match (real.next(), real.next()) {
                    (Some(only), None) => self.value(only, path),
                    _ => Err(Self::unsupported(path, format!("`{key}` of several schemas"))),
                };
            }
        }
        match primary_type(schema) {
            Some("object") => self.object(schema, path),
            Some("array") => self.array(schema, path),
            Some("string") => self.string(schema),
            Some("integer") => {
                let min = schema.get("minimum").and_then(Value::as_i64).unwrap_or(0);
                let max = schema.get("maximum").and_then(Value::as_i64).unwrap_or(i64::MAX);
                if !(0..=9).contains(&min) || !(0..=9).contains(&max) || min > max {
                    return Err(Self::unsupported(
                        path,
                        "integers need a `minimum` and `maximum` between 0 and 9",
                    ));
                }
                let options: Vec<Value> = (min..=max).map(Value::from).collect();
                self.literal(&options, path)
            }
            Some(other) => Err(Self::unsupported(path, format!("type `{other}`"))),
            None => Err(Self::unsupported(path, "a schema without a type")),
        }
    }

    fn object(&mut self, schema: &Value, path: &str) -> Result<(), LlmError> {
        let props = properties(schema).unwrap_or_default();
        self.force("{")?;
        for (i, (name, prop)) in props.into_iter().enumerate() {
            let key = Value::String(name.to_owned()).to_string();
            self.force(&format!("{}{key}: ", if i == 0 { "" } else { ", " }))?;
            self.value(prop, &format!("{path}/{name}"))?;
        }
        self.force("}")
    }

    fn array(&mut self, schema: &Value, path: &str) -> Result<(), LlmError> {
        let items = schema
            .get("items")
            .ok_or_else(|| Self::unsupported(path, "an array without `items`"))?;
        let min = uint(schema, "minItems").unwrap_or(0);
        let max = uint(schema, "maxItems").unwrap_or(usize::MAX);
        if min > max {
            return Err(Self::unsupported(path, "`minItems` above `maxItems`"));
        }
        // What a first item's token starts with, for deciding an empty array.
        let item = resolve(self.root, items).unwrap_or(items);
        let opener = match primary_type(item) {
            Some("object") => class::BRACE,
            _ => class::QUOTE,
        };
        self.force("[")?;
        let mut count = 0;
        while count < max {
            if count >= min {
                let tokenizer = self.session.tokenizer();
                let more = if count == 0 { opener } else { class::COMMA };
                let token = self
                    .session
                    .pick(&|t| tokenizer.class(t) & (more | class::CLOSE) != 0)?;
                if tokenizer.class(token) & class::CLOSE != 0 {
                    break;
                }
            }
            if count > 0 {
                self.force(", ")?;
            }
            self.value(items, &format!("{path}/{count}"))?;
            count += 1;
        }
        self.force("]")
    }

    fn string(&mut self, schema: &Value) -> Result<(), LlmError> {
        let min = uint(schema, "minLength").unwrap_or(1).max(1);
        let max = uint(schema, "maxLength").unwrap_or(DEFAULT_MAX_LENGTH).max(min);
        self.force("\"")?;
        let mut content = String::new();
        let mut length = 0;
        loop {
            let room = max - length;
            if room == 0 {
                break;
            }
            let can_end = content.trim().chars().count() >= min;
            let tokenizer = self.session.tokenizer();
            let fits = |t: u32| {
                let flags = tokenizer.class(t);
                (flags & class::TEXT != 0
                    && std::str::from_utf8(tokenizer.piece(t)).is_ok_and(|s| s.chars().count() <= room)
                    && !(length == 0 && tokenizer.piece(t).first() == Some(&b' ')))
                    || (can_end && flags & class::QUOTE != 0)
            };
            let token = self.session.pick(&fits)?;
            if tokenizer.class(token) & class::TEXT == 0 {
                break;
            }
            let piece = String::from_utf8_lossy(tokenizer.piece(token)).into_owned();
            self.session.accept(token);
            length += piece.chars().count();
            self.out.push_str(&piece);
            (self.on_text)(&piece);
            content.push_str(&piece);
        }
        self.force("\"")
    }

    /// One of `options`, chosen token by token among the literals still possible.
    fn literal(&mut self, options: &[Value], path: &str) -> Result<(), LlmError> {
        if options.is_empty() {
            return Err(Self::unsupported(path, "an `enum` with no values"));
        }
        let texts: Vec<String> = options.iter().map(Value::to_string).collect();
        let mut alive: Vec<(usize, Vec<u32>)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Ok((i, self.session.tokenizer().encode(t)?)))
            .collect::<Result<_, LlmError>>()?;
        let mut depth = 0;
        loop {
            if alive.len() == 1 {
                let (i, tokens) = &alive[0];
                for &t in &tokens[depth..] {
                    self.session.accept(t);
                }
                let rest = self.session.tokenizer().decode(&tokens[depth..]);
                self.out.push_str(&rest);
                (self.on_text)(&rest);
                debug_assert!(texts[*i].ends_with(&rest));
                return Ok(());
            }
            let next: Vec<u32> = alive.iter().filter_map(|(_, t)| t.get(depth).copied()).collect();
            let token = self.session.pick(&|t| next.contains(&t))?;
            alive.retain(|(_, tokens)| tokens.get(depth) == Some(&token));
            // A literal that ends here while longer ones go on (unquoted numbers): it wins.
            if let Some(done) = alive.iter().position(|(_, tokens)| tokens.len() == depth + 1) {
                alive = vec![alive.swap_remove(done)];
            }
            self.session.accept(token);
            let piece = self.session.tokenizer().decode(&[token]);
            self.out.push_str(&piece);
            (self.on_text)(&piece);
            depth += 1;
        }
    }
}
