//! The chat template: the GGUF's own Jinja template (`tokenizer.chat_template`), rendered with
//! minijinja; ChatML when the file has none.

use minijinja::{Environment, context};
use serde::Serialize;

use super::LlmError;

/// ChatML, for files without a template.
const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + \
                      message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt \
                      %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The instructions.
    System,
    /// The request.
    User,
    /// The model's earlier answers.
    Assistant,
}

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
}

/// A model's chat template.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
}

impl ChatTemplate {
    /// The template of `source`, or ChatML for `None`.
    pub fn new(source: Option<&str>) -> Result<Self, LlmError> {
        let mut env = Environment::new();
        // Hugging Face templates call Python string methods (`.strip()`) and `raise_exception`.
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, minijinja::Error> {
                Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message))
            },
        );
        env.add_template_owned("chat", source.unwrap_or(CHATML).to_owned())
            .map_err(|e| LlmError::Template(e.to_string()))?;
        Ok(Self { env })
    }

    /// The prompt for `messages`, ending where the assistant's answer starts.
    pub fn render(&self, messages: &[Message]) -> Result<String, LlmError> {
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| LlmError::Template(e.to_string()))?;
        template
            .render(context! {
                messages => minijinja::value::Serde(messages),
                add_generation_prompt => true,
                bos_token => "",
                eos_token => "",
            })
            .map_err(|e| LlmError::Template(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_by_default_and_the_files_own_template() {
        let chat = [Message::system("Be brief."), Message::user("Hi")];
        let chatml = ChatTemplate::new(None).expect("chatml");
        assert_eq!(
            chatml.render(&chat).expect("render"),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        let own = ChatTemplate::new(Some(
            "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}",
        ))
        .expect("own");
        assert_eq!(
            own.render(&chat).expect("render"),
            "[system] Be brief.\n[user] Hi\n[assistant] "
        );
    }

    /// Qwen2.5's template (from the qwen2.5-coder GGUFs' metadata): a default system prompt when
    /// the chat has none, a tools branch, and otherwise ChatML.
    const QWEN: &str = include_str!("../tests/fixtures/qwen2.5-chat-template.jinja");

    #[test]
    fn qwens_template_renders_our_chats_as_chatml() {
        let qwen = ChatTemplate::new(Some(QWEN)).expect("qwen's template");
        let chat = [Message::system("Be brief."), Message::user("Hi")];
        assert_eq!(
            qwen.render(&chat).expect("render"),
            ChatTemplate::new(None).expect("chatml").render(&chat).expect("render"),
            "a system message and a request: ChatML, the tools branch left out"
        );
        assert_eq!(
            qwen.render(&[Message::user("Hi")]).expect("render"),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n\
             <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        let earlier = [
            Message::system("Be brief."),
            Message::user("Hi"),
            Message {
                role: Role::Assistant,
                content: "Hello.".into(),
            },
            Message::user("Again"),
        ];
        assert!(qwen.render(&earlier).expect("render").ends_with(
            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nAgain<|im_end|>\n<|im_start|>assistant\n"
        ));
    }

    #[test]
    fn a_broken_template_is_refused() {
        assert!(matches!(
            ChatTemplate::new(Some("{% for %}")),
            Err(LlmError::Template(_))
        ));
    }
}
