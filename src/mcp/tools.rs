//! The tools. Each is a thin adapter: parse arguments, call the same `crate::library` function
//! the REST API calls, and shape the result for a language model.

use crate::auth::guard::Caller;
use crate::auth::Scope;
use crate::state::AppState;
use serde_json::{json, Value};

pub struct Tool {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub scope: Scope,
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub input_schema: fn() -> Value,
    pub output_schema: fn() -> Value,
}

pub static TOOLS: &[Tool] = &[];

pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.name == name)
}

/// The tools the caller's scopes allow, described for `tools/list`.
pub fn list(caller: &Caller, version: &str) -> Value {
    let structured = version != super::BATCH_VERSION;
    let tools: Vec<Value> = TOOLS
        .iter()
        .filter(|t| caller.scopes.allows(t.scope))
        .map(|t| {
            let mut tool = json!({
                "name": t.name,
                "title": t.title,
                "description": t.description,
                "inputSchema": (t.input_schema)(),
                "annotations": {
                    "title": t.title,
                    "readOnlyHint": t.read_only,
                    "destructiveHint": t.destructive,
                    "idempotentHint": t.idempotent,
                    "openWorldHint": false,
                },
            });
            // outputSchema arrived with 2025-06-18; older clients get the text block only.
            if structured {
                tool["outputSchema"] = (t.output_schema)();
            }
            tool
        })
        .collect();
    json!({ "tools": tools })
}

pub async fn call(
    _state: &AppState,
    _caller: &Caller,
    tool: &Tool,
    _arguments: Value,
    _version: &str,
) -> Value {
    tool_error(&format!("{} is not available", tool.name))
}

/// A tool failure the model can act on.
pub fn tool_error(message: &str) -> Value {
    json!({"content": [{"type": "text", "text": message}], "isError": true})
}
