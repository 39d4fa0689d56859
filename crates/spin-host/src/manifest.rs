//! The parts of a Spin manifest (v2) the host obeys: the component the HTTP trigger routes to, its
//! stores, its outbound hosts, and its variables. Reading the real `spin.toml` (rather than
//! hard-coding names) means a manifest that grants the wrong store or forgets a variable fails here
//! as it would fail under `spin up`.

use wasmtime::error::{Context as _, Result};
use wasmtime::bail;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct RawManifest {
    spin_manifest_version: u32,
    #[serde(default)]
    variables: HashMap<String, RawVariable>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: HashMap<String, RawComponent>,
}

#[derive(Deserialize, Default)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
}

#[derive(Deserialize)]
struct RawHttpTrigger {
    route: String,
    component: String,
}

#[derive(Deserialize)]
struct RawVariable {
    default: Option<String>,
    #[serde(default)]
    required: bool,
}

#[derive(Deserialize)]
struct RawComponent {
    source: String,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: HashMap<String, String>,
}

/// One HTTP component as the host serves it.
pub struct Component {
    pub source: PathBuf,
    pub key_value_stores: Vec<String>,
    pub sqlite_databases: Vec<String>,
    pub allowed_outbound_hosts: Vec<String>,
    /// The component's variables, resolved against the application variables.
    pub variables: HashMap<String, String>,
}

/// Reads `path`, checks it the way `spin up` does for what this host supports (one HTTP trigger on
/// `/...`), and resolves the component's variables from `provider` (Spin's environment provider:
/// `SPIN_VARIABLE_<NAME>`), application defaults, and the `required` flags.
pub fn load(path: &Path, provider: impl Fn(&str) -> Option<String>) -> Result<Component> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let raw: RawManifest = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if raw.spin_manifest_version != 2 {
        bail!("only manifest version 2 is supported");
    }
    let [trigger] = raw.trigger.http.as_slice() else {
        bail!("the host serves exactly one [[trigger.http]]");
    };
    if trigger.route != "/..." {
        bail!("the host serves the wildcard route \"/...\" only, not {:?}", trigger.route);
    }
    let comp = raw.component.get(&trigger.component).with_context(|| format!("the trigger names an unknown component {:?}", trigger.component))?;

    // Application variables: a value from the provider, else the default; a required one with
    // neither stops the start, as in Spin.
    let mut app_values = HashMap::new();
    for (name, var) in &raw.variables {
        match provider(name).or_else(|| var.default.clone()) {
            Some(v) => {
                app_values.insert(name.clone(), v);
            }
            None if var.required => bail!("the required variable {name:?} has no value (set SPIN_VARIABLE_{})", name.to_uppercase()),
            None => {}
        }
    }
    let mut variables = HashMap::new();
    for (name, template) in &comp.variables {
        variables.insert(name.clone(), expand(template, &app_values).with_context(|| format!("component variable {name:?}"))?);
    }

    let base = path.parent().unwrap_or(Path::new("."));
    Ok(Component {
        source: base.join(&comp.source),
        key_value_stores: comp.key_value_stores.clone(),
        sqlite_databases: comp.sqlite_databases.clone(),
        allowed_outbound_hosts: comp.allowed_outbound_hosts.clone(),
        variables,
    })
}

/// Expands `{{ name }}` references to application variables (Spin's template syntax).
fn expand(template: &str, values: &HashMap<String, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").context("an unclosed '{{' in a template")? + start;
        let name = rest[start + 2..end].trim();
        out.push_str(values.get(name).with_context(|| format!("no application variable {name:?}"))?);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile_path::TempManifest {
        tempfile_path::TempManifest::new(text)
    }

    mod tempfile_path {
        pub struct TempManifest(pub std::path::PathBuf);
        impl TempManifest {
            pub fn new(text: &str) -> Self {
                let mut bytes = [0u8; 8];
                getrandom::getrandom(&mut bytes).unwrap();
                let dir = std::env::temp_dir().join(format!("spin-host-manifest-{}", u64::from_le_bytes(bytes)));
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join("spin.toml");
                std::fs::write(&path, text).unwrap();
                TempManifest(path)
            }
        }
        impl Drop for TempManifest {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
            }
        }
    }

    #[test]
    fn the_projects_manifest_resolves_with_its_required_secret() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml");
        let c = load(&path, |n| (n == "master_secret").then(|| "m".to_string())).unwrap();
        assert_eq!(c.key_value_stores, ["default"]);
        assert_eq!(c.sqlite_databases, ["default"]);
        assert_eq!(c.variables["master_secret"], "m");
        assert_eq!(c.variables["root_secret"], "");
        assert!(c.source.ends_with("target/wasm32-wasip2/release/edgeauth_spin.wasm"));
        let err = load(&path, |_| None).err().unwrap().to_string();
        assert!(err.contains("master_secret"), "{err}");
    }

    #[test]
    fn templates_name_application_variables() {
        let m = write(
            "spin_manifest_version = 2\n[application]\nname='x'\n[variables]\na = { default = 'A' }\n[[trigger.http]]\nroute='/...'\ncomponent='c'\n[component.c]\nsource='c.wasm'\n[component.c.variables]\nv = 'x-{{ a }}-y'\nw = '{{ missing }}'\n",
        );
        let err = load(&m.0, |_| None).err().unwrap();
        assert!(format!("{err:#}").contains("missing"), "{err:#}");
        assert_eq!(expand("x-{{ a }}-y", &HashMap::from([("a".into(), "A".into())])).unwrap(), "x-A-y");
    }

    #[test]
    fn other_routes_are_refused() {
        let m = write("spin_manifest_version = 2\n[[trigger.http]]\nroute='/api/...'\ncomponent='c'\n[component.c]\nsource='c.wasm'\n");
        assert!(load(&m.0, |_| None).is_err());
    }
}
