//! Configs in a form eggroll no longer reads, met with a clear error saying how to write them
//! now. Before the one training loop, EGG language-model configs were one flat table marked
//! `workload = "egg"`; they are now sections like every other run (`[model] kind = "egg_gru"`,
//! `[task] name = "text"`).

/// The top-level key that marked a config as an EGG run in the old form.
pub const WORKLOAD_KEY: &str = "workload";

/// Where each key of the old flat EGG table lives now (section, key).
const MOVED: [(&str, &str, &str); 21] = [
    ("seed", "", "seed"),
    ("generations", "", "generations"),
    ("d_model", "model", "d_model"),
    ("n_layers", "model", "n_layers"),
    ("sigma_shift", "model", "sigma_shift"),
    ("alpha_schedule", "model", "alpha_schedule"),
    ("alpha_start", "model", "alpha_start"),
    ("alpha_end", "model", "alpha_end"),
    ("alpha_generations", "model", "alpha_generations"),
    ("chunk_members", "model", "chunk_members"),
    ("share_pair_state", "model", "share_pair_state"),
    ("data", "task", "data"),
    ("window", "task", "window"),
    ("val_fraction", "task", "val_fraction"),
    ("eval_bytes", "task", "eval_bytes"),
    ("eval_streams", "task", "eval_streams"),
    ("population", "es", "population"),
    ("rank", "es", "rank"),
    ("noise_reuse", "es", "noise_reuse"),
    ("eval_every", "run", "eval_every"),
    ("checkpoint_every", "run", "checkpoint_every"),
];

/// The error text for a config in the old form: what changed, and the config rewritten.
pub fn old_egg_form(old: &toml::Table) -> String {
    let mut new = toml::Table::new();
    let mut section = |name: &str, first: (&str, &str)| {
        let mut t = toml::Table::new();
        t.insert(first.0.into(), toml::Value::String(first.1.into()));
        new.insert(name.into(), toml::Value::Table(t));
    };
    section("model", ("kind", "egg_gru"));
    section("task", ("name", "text"));
    section("es", ("shaping", "pair_sign"));
    let mut unknown = Vec::new();
    for (key, value) in old {
        if key == WORKLOAD_KEY {
            continue;
        }
        match MOVED.iter().find(|(k, _, _)| k == key) {
            Some((_, "", to)) => {
                new.insert((*to).into(), value.clone());
            }
            Some((_, sec, to)) => {
                let t = new
                    .entry(sec.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let Some(t) = t.as_table_mut() {
                    t.insert((*to).into(), value.clone());
                }
            }
            None => unknown.push(key.clone()),
        }
    }
    // The old form's defaults where they differ from the sections' own.
    for (sec, key, default) in [
        ("es", "rank", 1),
        ("run", "eval_every", 10),
        ("", "generations", 1000),
    ] {
        let table = match sec {
            "" => Some(&mut new),
            s => new.get_mut(s).and_then(toml::Value::as_table_mut),
        };
        if let Some(t) = table {
            t.entry(key).or_insert(toml::Value::Integer(default));
        }
    }
    if let Some(every) = old.get("eval_every").and_then(toml::Value::as_integer) {
        if every == 0 {
            // The old 0 meant "only at the end"; the loop always evaluates at the end.
            if let Some(run) = new.get_mut("run").and_then(toml::Value::as_table_mut) {
                run.remove("eval_every");
            }
        }
    }
    let text = toml::to_string(&new).unwrap_or_default();
    let mut why = format!(
        "`{WORKLOAD_KEY} = ...` marks the old flat EGG form, which is no longer read; write the run in sections, e.g.:\n\n{text}"
    );
    if !unknown.is_empty() {
        why.push_str(&format!(
            "\n(keys with no place in the new form, left out: {})",
            unknown.join(", ")
        ));
    }
    why
}

#[cfg(test)]
mod tests {
    use crate::RunConfig;

    #[test]
    fn the_old_form_is_refused_with_a_config_that_loads() {
        let old = "workload = \"egg\"\nseed = 3\nd_model = 16\npopulation = 32\nwindow = 24\neval_every = 5\nbogus = 1\n";
        let err = RunConfig::from_toml(old, "old.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("old.toml") && err.contains("workload"),
            "{err}"
        );
        assert!(err.contains("bogus"), "{err}");
        let text = err
            .split_once("e.g.:\n\n")
            .map(|(_, t)| t.split("\n(keys").next().unwrap_or(t))
            .unwrap();
        let cfg = RunConfig::from_toml(text, "new", &[]).unwrap();
        let egg = cfg.egg().unwrap();
        assert_eq!(
            (egg.seed, egg.model.d_model, egg.population, egg.text.window),
            (3, 16, 32, 24)
        );
        assert_eq!(cfg.run.eval_every, 5);
    }
}
