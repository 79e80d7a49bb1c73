//! Chat templates: ChatML (`<|im_start|>role\n…<|im_end|>\n`), the one SmolLM2 and Qwen use.
//!
//! The file's `tokenizer.chat_template` is a Jinja program; rather than embed a Jinja engine
//! we recognise ChatML by its markers and read the default system message the template adds
//! when the conversation does not start with one (SmolLM2's: "You are a helpful AI assistant
//! named SmolLM, trained by Hugging Face"), so prompts match what `transformers`'
//! `apply_chat_template(…, add_generation_prompt=True)` renders.

/// One turn of a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The turn's text.
    pub content: String,
}

impl ChatMessage {
    /// A user turn.
    pub fn user(content: &str) -> Self {
        ChatMessage {
            role: "user".into(),
            content: content.into(),
        }
    }

    /// A system turn.
    pub fn system(content: &str) -> Self {
        ChatMessage {
            role: "system".into(),
            content: content.into(),
        }
    }
}

/// A recognised chat template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatTemplate {
    /// System message added when the first turn is not a system turn.
    pub default_system: Option<String>,
}

const START: &str = "<|im_start|>";
const END: &str = "<|im_end|>";

impl ChatTemplate {
    /// ChatML if `jinja` uses its markers, with the default system message it inserts.
    pub fn detect(jinja: &str) -> Option<ChatTemplate> {
        if !jinja.contains(START) || !jinja.contains(END) {
            return None;
        }
        let marker = format!("{START}system");
        let default_system = jinja.find(&marker).and_then(|at| {
            let rest = &jinja[at + marker.len()..];
            let rest = rest
                .strip_prefix("\\n")
                .or_else(|| rest.strip_prefix('\n'))?;
            let end = rest.find(END)?;
            let text = &rest[..end];
            // A literal message, not a Jinja expression such as `messages[0]['content']`.
            (!text.contains("{{") && !text.contains('\'')).then(|| text.replace("\\n", "\n"))
        });
        Some(ChatTemplate { default_system })
    }

    /// The prompt text of `messages` with the assistant's turn opened.
    pub fn render(&self, messages: &[ChatMessage]) -> String {
        let mut out = String::new();
        let turn = |out: &mut String, role: &str, content: &str| {
            out.push_str(START);
            out.push_str(role);
            out.push('\n');
            out.push_str(content);
            out.push_str(END);
            out.push('\n');
        };
        if let Some(sys) = &self.default_system {
            if messages.first().is_none_or(|m| m.role != "system") {
                turn(&mut out, "system", sys);
            }
        }
        for m in messages {
            turn(&mut out, &m.role, &m.content);
        }
        out.push_str(START);
        out.push_str("assistant\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn smollm2_template_with_its_default_system_message() {
        let t = ChatTemplate::detect(SMOLLM2).unwrap();
        assert_eq!(
            t.render(&[ChatMessage::user("2+2?")]),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
             <|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
        );
        // A conversation that brings its own system message gets no default one.
        assert_eq!(
            t.render(&[ChatMessage::system("Be brief."), ChatMessage::user("Hi")]),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn plain_chatml_and_other_templates() {
        let plain = "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n'}}{% endfor %}";
        let t = ChatTemplate::detect(plain).unwrap();
        assert_eq!(t.default_system, None);
        assert_eq!(
            t.render(&[ChatMessage::user("x")]),
            "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n"
        );
        assert_eq!(ChatTemplate::detect("[INST] {{ m }} [/INST]"), None);
    }
}
