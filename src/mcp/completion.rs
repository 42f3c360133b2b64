//! `completion/complete`: values for a prompt's argument or a resource template's parameter,
//! from the tables in `prompts` and `resources` (each entry names its own completer).

use super::protocol::{required_str, Ctx, Failure, MethodResult, RpcError};
use super::{prompts, resources};
use crate::auth::Scope;
use serde_json::{json, Value};

/// Values of a prompt argument or template parameter that match what was typed so far.
pub type Completer = fn(&mut Ctx<'_>, &str) -> crate::error::AppResult<Vec<String>>;

/// The spec's cap on the values of one answer.
const MAX_VALUES: usize = 100;

pub fn complete(ctx: &mut Ctx<'_>, params: &Value) -> MethodResult {
    let reference = params.get("ref").unwrap_or(&Value::Null);
    let argument = params.get("argument").unwrap_or(&Value::Null);
    let name = required_str(argument, "name")
        .map_err(|_| RpcError::invalid_params("`argument.name` is required: a string"))?;
    let typed = argument.get("value").and_then(Value::as_str).unwrap_or("");
    let completer = match reference.get("type").and_then(Value::as_str) {
        Some("ref/prompt") => {
            let prompt = required_str(reference, "name")
                .ok()
                .and_then(prompts::find)
                .ok_or_else(|| RpcError::invalid_params("`ref.name` names no prompt"))?;
            prompt
                .arguments
                .iter()
                .find(|a| a.name == name)
                .ok_or_else(|| {
                    RpcError::invalid_params(format!("prompt {} has no argument `{name}`", prompt.name))
                })?
                .complete
        }
        Some("ref/resource") => {
            let template = required_str(reference, "uri")
                .ok()
                .and_then(resources::template)
                .ok_or_else(|| RpcError::invalid_params("`ref.uri` names no resource template"))?;
            if template.variable != name {
                return Err(RpcError::invalid_params(format!(
                    "{} has no parameter `{name}`",
                    template.uri_template
                ))
                .into());
            }
            Some(template.complete)
        }
        _ => {
            return Err(RpcError::invalid_params(
                "`ref` must be {\"type\": \"ref/prompt\", \"name\"} or {\"type\": \"ref/resource\", \"uri\"}",
            )
            .into())
        }
    };
    if !ctx.allows(Scope::Read) {
        return Err(Failure::Scope(Scope::Read));
    }
    let mut values = match completer {
        Some(complete) => complete(ctx, typed)?,
        None => Vec::new(),
    };
    let total = values.len();
    values.truncate(MAX_VALUES);
    Ok(json!({"completion": {"values": values, "total": total, "hasMore": total > MAX_VALUES}}))
}
