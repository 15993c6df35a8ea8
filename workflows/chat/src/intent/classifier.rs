//! The classifier: pattern rules first, then keyword cues and the embedder's vote.

use std::fmt;
use std::sync::Arc;

use showrunner_backend::{BackendError, BackendResult, Embedder, cosine};

use super::edits::*;
use super::lexicon::*;
use super::message::*;
use super::{EditRequest, Intent, IntentKind};

/// A keyword cue found in a message.
#[derive(Debug)]
struct Hit {
    start: usize,
    len: usize,
    clause: usize,
    kind: Option<IntentKind>,
    weight: f32,
}

/// A node key and one way of naming it.
#[derive(Debug)]
struct NodeName {
    key: String,
    words: Vec<String>,
}

/// A node named in a message: token range and key.
#[derive(Debug)]
struct Mention {
    start: usize,
    len: usize,
    key: String,
}

/// Classifies chat messages into [`Intent`]s, through an [`Embedder`] plus pattern rules; see the
/// [module docs](super).
pub struct IntentClassifier {
    embedder: Arc<dyn Embedder>,
    /// Prototype vectors per kind, indexed by [`IntentKind::index`].
    prototypes: [Vec<Vec<f32>>; 4],
    /// Node names, longest first.
    nodes: Vec<NodeName>,
    /// Cue words, longest phrase first.
    cues: Vec<(Vec<String>, Option<IntentKind>, f32)>,
}

impl fmt::Debug for IntentClassifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<&str> = self.nodes.iter().map(|n| n.key.as_str()).collect();
        keys.dedup();
        f.debug_struct("IntentClassifier")
            .field("embedder", &self.embedder.generator().model)
            .field("nodes", &keys)
            .finish_non_exhaustive()
    }
}

impl IntentClassifier {
    /// A classifier over `embedder` for a workflow with `nodes`: each node key with the words
    /// people use for it (the key itself, with `_` read as a space, always counts). Embeds the
    /// prototype sentences once, here.
    ///
    /// Fails with [`BackendError::Invalid`] on an empty key or synonym, and with the embedder's
    /// error, or [`BackendError::Failed`] when it returns the wrong number of vectors or vectors
    /// of different sizes.
    pub fn new(embedder: Arc<dyn Embedder>, nodes: &[(&str, &[&str])]) -> BackendResult<Self> {
        let mut names = Vec::new();
        for (key, synonyms) in nodes {
            if key.trim().is_empty() {
                return Err(BackendError::Invalid("a node key is empty".into()));
            }
            let spaced = key.replace('_', " ");
            for phrase in std::iter::once(spaced.as_str()).chain(synonyms.iter().copied()) {
                let words = words_of(phrase);
                if words.is_empty() {
                    return Err(BackendError::Invalid(format!("node {key}: a synonym has no words")));
                }
                names.push(NodeName {
                    key: key.to_string(),
                    words,
                });
            }
        }
        names.sort_by_key(|n| std::cmp::Reverse(n.words.len()));

        let mut cues: Vec<_> = CUES
            .iter()
            .map(|&(phrase, kind, weight)| (words_of(phrase), kind, weight))
            .collect();
        cues.sort_by_key(|c| std::cmp::Reverse(c.0.len()));

        let texts: Vec<&str> = PROTOTYPES
            .iter()
            .flat_map(|(_, sentences)| sentences.iter().copied())
            .collect();
        let vectors = embedder.embed(&texts)?;
        if vectors.len() != texts.len() {
            return Err(BackendError::Failed(format!(
                "the embedder returned {} vectors for {} prototypes",
                vectors.len(),
                texts.len()
            )));
        }
        let dimensions = vectors.first().map_or(0, Vec::len);
        if dimensions == 0 || vectors.iter().any(|v| v.len() != dimensions) {
            return Err(BackendError::Failed(
                "the embedder returned empty or uneven vectors".into(),
            ));
        }
        let mut prototypes: [Vec<Vec<f32>>; 4] = Default::default();
        let mut vectors = vectors.into_iter();
        for (kind, sentences) in PROTOTYPES {
            prototypes[kind.index()].extend(vectors.by_ref().take(sentences.len()));
        }
        Ok(Self {
            embedder,
            prototypes,
            nodes: names,
            cues,
        })
    }

    /// Classifies one chat message.
    ///
    /// A message without words (empty, whitespace, punctuation only) is refused with
    /// [`BackendError::Invalid`] rather than guessed at: the UI should not send one, and a
    /// guess would be acted on. Fails too when the embedder does.
    pub fn classify(&self, text: &str) -> BackendResult<Intent> {
        let message = Message::parse(text);
        if message.tokens.is_empty() {
            return Err(BackendError::Invalid("the message has no words".into()));
        }
        let similarity = self.similarity(text)?;
        let leaning = argmax(&similarity);
        let decided = |kind: IntentKind| if leaning == kind { 0.9 } else { 0.8 };

        if message.is_question() {
            return Ok(Intent {
                kind: IntentKind::Question,
                confidence: decided(IntentKind::Question),
                target: self.target(&message, message.tokens.len(), IntentKind::Question),
                feedback: None,
                edit: None,
            });
        }
        if let Some((edit, separator)) = self.parse_edit(&message) {
            return Ok(Intent {
                kind: IntentKind::Edit,
                confidence: decided(IntentKind::Edit),
                target: self.target(&message, separator, IntentKind::Edit),
                feedback: None,
                edit: Some(edit),
            });
        }

        let cues = self.cue_scores(&message);
        let mut scores = [0.0f32; 4];
        for (i, score) in scores.iter_mut().enumerate() {
            *score = cues[i] + EMBEDDING_WEIGHT * similarity[i];
        }
        // No edit shape matched, so an edit cannot be applied: the best other kind answers, and
        // the edit's share of the softmax (an edit-like message) lowers its confidence.
        let mut kind = argmax(&scores);
        if kind == IntentKind::Edit {
            let mut others = scores;
            others[IntentKind::Edit.index()] = f32::NEG_INFINITY;
            kind = argmax(&others);
        }
        let best = scores[kind.index()];
        let total: f32 = scores.iter().map(|s| ((s - best) / TEMPERATURE).exp()).sum();
        let mut confidence = 1.0 / total;
        // A regenerate that reads like setting a field ("I want the title changed to
        // Glasshouse", "make Juno's age 27") but fits no edit shape is never sure enough to
        // throw work away unasked.
        if kind == IntentKind::Regenerate && sets_a_field(&message) {
            confidence = confidence.min(FIELD_LIKE);
        }
        Ok(Intent {
            kind,
            confidence,
            target: self.target(&message, message.tokens.len(), kind),
            feedback: (kind == IntentKind::Regenerate)
                .then(|| self.feedback(&message))
                .flatten(),
            edit: None,
        })
    }

    /// Per kind, the mean cosine of the message to its `TOP_K` closest prototypes.
    fn similarity(&self, text: &str) -> BackendResult<[f32; 4]> {
        let vector = self
            .embedder
            .embed(&[text])?
            .into_iter()
            .next()
            .ok_or_else(|| BackendError::Failed("the embedder returned no vector".into()))?;
        let dimensions = self.prototypes[0].first().map_or(0, Vec::len);
        if vector.len() != dimensions {
            return Err(BackendError::Failed(format!(
                "the embedder returned {} dimensions, its prototypes have {dimensions}",
                vector.len()
            )));
        }
        let mut similarity = [0.0f32; 4];
        for (kind, prototypes) in self.prototypes.iter().enumerate() {
            let mut cosines: Vec<f32> = prototypes.iter().map(|p| cosine(&vector, p)).collect();
            cosines.sort_by(|a, b| b.total_cmp(a));
            let top = &cosines[..TOP_K.min(cosines.len())];
            similarity[kind] = top.iter().sum::<f32>() / top.len().max(1) as f32;
        }
        Ok(similarity)
    }

    /// Keyword votes per kind; see [`CUES`].
    fn cue_scores(&self, message: &Message<'_>) -> [f32; 4] {
        let tokens = &message.tokens;
        let mut hits = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            match self.cue_at(message, i) {
                Some(hit) => {
                    i += hit.len;
                    hits.push(hit);
                }
                None => i += 1,
            }
        }

        // Negation: a negator flips the approve or regenerate cue it reaches in its clause.
        let mut used = vec![false; hits.len()];
        for h in 0..hits.len() {
            let Some(kind @ (IntentKind::Approve | IntentKind::Regenerate)) = hits[h].kind else {
                continue;
            };
            let negator = (0..h).rev().find(|&n| {
                hits[n].kind.is_none()
                    && !used[n]
                    && hits[n].clause == hits[h].clause
                    && hits[h].start - (hits[n].start + hits[n].len) <= NEGATION_REACH
            });
            if let Some(n) = negator {
                used[n] = true;
                hits[h].kind = Some(match kind {
                    IntentKind::Approve => IntentKind::Regenerate,
                    _ => IntentKind::Approve,
                });
            }
        }

        let contrast = tokens.iter().rposition(|t| CONTRASTS.contains(&t.bare.as_str()));
        let mut scores = [0.0f32; 4];
        for (h, hit) in hits.iter().enumerate() {
            let damp = if contrast.is_some_and(|c| hit.start < c) {
                BEFORE_BUT
            } else {
                1.0
            };
            match hit.kind {
                Some(kind) => scores[kind.index()] += hit.weight * damp,
                None if !used[h] => scores[IntentKind::Regenerate.index()] += LONE_NEGATOR * damp,
                None => {}
            }
        }
        if message.question_mark {
            scores[IntentKind::Question.index()] += 1.0;
        }
        scores
    }

    /// The longest cue at token `i`, exact matches before one-typo ones.
    fn cue_at(&self, message: &Message<'_>, i: usize) -> Option<Hit> {
        let tokens = &message.tokens;
        let clause = tokens[i].clause;
        let word = tokens[i].bare.as_str();

        // "like"/"love" approve only as the speaker's verb ("I like it", "love it"), not as a
        // comparison ("make it look like a noir film") or a wish ("I'd like you to").
        if matches!(word, "like" | "likes" | "liked" | "love" | "loves" | "loved") {
            let before = if i > 0 && tokens[i - 1].clause == clause {
                message.bare(i - 1)
            } else {
                ""
            };
            let after = if tokens.get(i + 1).is_some_and(|t| t.clause == clause) {
                message.bare(i + 1)
            } else {
                ""
            };
            let speaker = matches!(
                before,
                "" | "i"
                    | "we"
                    | "really"
                    | "dont"
                    | "do"
                    | "didnt"
                    | "totally"
                    | "definitely"
                    | "absolutely"
                    | "actually"
                    | "still"
                    | "just"
            );
            let vote = speaker && !matches!(after, "to" | "you" | "if" | "when");
            return vote.then_some(Hit {
                start: i,
                len: 1,
                clause,
                kind: Some(IntentKind::Approve),
                weight: 1.0,
            });
        }
        // A "no" on its own is a refusal; elsewhere it is a negator.
        if word == "no" && tokens.get(i + 1).is_none_or(|t| t.clause != clause) {
            return Some(Hit {
                start: i,
                len: 1,
                clause,
                kind: Some(IntentKind::Regenerate),
                weight: 1.5,
            });
        }

        for fuzzy in [false, true] {
            for (words, kind, weight) in &self.cues {
                let fits = words.iter().enumerate().all(|(k, w)| {
                    tokens
                        .get(i + k)
                        .is_some_and(|t| t.clause == clause && word_matches(&t.bare, w, fuzzy))
                });
                if fits {
                    return Some(Hit {
                        start: i,
                        len: words.len(),
                        clause,
                        kind: *kind,
                        weight: *weight,
                    });
                }
            }
        }
        None
    }

    /// The nodes named in tokens `..end`, longest names first, without overlaps. A one-word
    /// name right before another name is an adjective ("the final scene"), not a mention.
    fn mentions(&self, message: &Message<'_>, end: usize) -> Vec<Mention> {
        let tokens = &message.tokens[..end.min(message.tokens.len())];
        let mut found: Vec<Mention> = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let name = self.nodes.iter().find(|n| {
                n.words
                    .iter()
                    .enumerate()
                    .all(|(k, w)| tokens.get(i + k).is_some_and(|t| &t.bare == w))
            });
            match name {
                Some(name) => {
                    found.push(Mention {
                        start: i,
                        len: name.words.len(),
                        key: name.key.clone(),
                    });
                    i += name.words.len();
                }
                None => i += 1,
            }
        }
        let adjectives: Vec<usize> = found
            .windows(2)
            .enumerate()
            .filter(|(_, pair)| pair[0].len == 1 && pair[0].start + 1 == pair[1].start)
            .map(|(k, _)| k)
            .collect();
        for k in adjectives.into_iter().rev() {
            found.remove(k);
        }
        found
    }

    /// The node the message names in tokens `..end`: for a regenerate the one right after a
    /// redo verb ("make the detective older and redo the storyboard"), else the one right after
    /// any command verb ("approve the outline"), else the first.
    fn target(&self, message: &Message<'_>, end: usize, kind: IntentKind) -> Option<String> {
        let mentions = self.mentions(message, end);
        let after = |verbs: &'static str| {
            mentions.iter().find(|m| {
                (m.start.saturating_sub(NEGATION_REACH)..m.start).any(|k| {
                    let between_ok =
                        (k + 1..m.start).all(|j| listed(DETERMINERS, message.bare(j)) || message.bare(j) == "on");
                    message.tokens[k].clause == message.tokens[m.start].clause
                        && listed_fuzzy(verbs, message.bare(k)).is_some()
                        && between_ok
                })
            })
        };
        let redone = if kind == IntentKind::Regenerate {
            after(REDO_VERBS)
        } else {
            None
        };
        redone
            .or_else(|| after(TARGET_VERBS))
            .or(mentions.first())
            .map(|m| m.key.clone())
    }

    /// The edit the message asks for, with the index of the token that ends its field part.
    fn parse_edit(&self, message: &Message<'_>) -> Option<(EditRequest, usize)> {
        let tokens = &message.tokens;
        for (from, to) in message.clauses() {
            let (lead, _) = message.lead(from, to);
            // An edit verb opening the clause, or after "and"/"then" inside it.
            let starts = (lead..to)
                .filter(|&i| i == lead || (i > lead && matches!(message.bare(i - 1), "and" | "then" | "also")));
            for i in starts {
                if let Some(verb) = listed_fuzzy(EDIT_VERBS, message.bare(i))
                    && let Some(found) = self.edit_command(message, i, verb)
                {
                    return Some(found);
                }
            }
            // "<subject's>? <field> should be <value>" for a known field.
            for k in lead + 1..to {
                let copula = matches!(
                    (message.bare(k), message.bare(k + 1)),
                    ("should" | "must", "be") | ("is", "now")
                );
                let width = if copula {
                    2
                } else if message.bare(k) == "=" {
                    1
                } else {
                    continue;
                };
                let lhs = &tokens[lead..k];
                if lhs.len() > 6 {
                    continue;
                }
                let Some((subject, field)) = split_field(lhs) else {
                    continue;
                };
                if !is_field(&field) {
                    continue;
                }
                let Some(value) = value_after(message, k + width - 1) else {
                    continue;
                };
                if !concrete(&value) {
                    continue;
                }
                return Some((EditRequest { subject, field, value }, k));
            }
        }
        None
    }

    /// "verb <lhs> to|=|into|with <value>" with the verb at token `i`.
    fn edit_command(&self, message: &Message<'_>, i: usize, verb: &str) -> Option<(EditRequest, usize)> {
        let tokens = &message.tokens;
        let clause = tokens[i].clause;
        let separator = (i + 1..tokens.len().min(i + 8))
            .take_while(|&j| tokens[j].clause == clause)
            .find(|&j| {
                matches!(message.bare(j), "to" | "=" | "into") || (verb == "replace" && message.bare(j) == "with")
            })?;
        let lhs = &tokens[i + 1..separator];
        let core: Vec<&str> = lhs
            .iter()
            .map(|t| t.bare.as_str())
            .skip_while(|w| listed(DETERMINERS, w))
            .collect();
        if core.is_empty() || (core.len() == 1 && listed(PRONOUNS, core[0])) {
            return None;
        }
        let names_a_node = self
            .nodes
            .iter()
            .any(|n| n.words.iter().map(String::as_str).eq(core.iter().copied()));
        if names_a_node && !is_field(&core.join("_")) {
            return None;
        }
        let value = value_after(message, separator)?;
        if !concrete(&value) {
            return None;
        }
        let (subject, field) = if verb == "rename" {
            let field = core.join("_");
            if is_field(&field) {
                (None, field)
            } else if core.len() == 1 && listed(EPISODE_WORDS, core[0]) {
                (None, "title".to_string())
            } else {
                (Some(subject_of(lhs)), "name".to_string())
            }
        } else {
            split_field(lhs)?
        };
        if verb == "make" && !is_field(&field) {
            return None;
        }
        Some((EditRequest { subject, field, value }, separator))
    }

    /// The message without its command words, for a regenerate: clauses that only say "redo
    /// the storyboard" go, and "redo the X with" goes from the front of the others.
    fn feedback(&self, message: &Message<'_>) -> Option<String> {
        let tokens = &message.tokens;
        // Segments: clauses, also cut before "and|then <redo verb>".
        let mut segments = Vec::new();
        for (from, to) in message.clauses() {
            let mut start = from;
            for k in from + 1..to {
                let joins = matches!(message.bare(k), "and" | "then");
                if joins && k + 1 < to && is_redo(message, k + 1) {
                    segments.push((start, k));
                    start = k;
                }
            }
            segments.push((start, to));
        }

        let mut kept = Vec::new();
        for (from, to) in segments {
            let (lead, _) = message.lead(from, to);
            // A bare refusal ("no,") says nothing the kind does not.
            if to - from == 1 && matches!(message.bare(from), "no" | "nope" | "nah" | "meh") {
                continue;
            }
            // Later segments keep their "and"; the first loses its fillers and "can you", and
            // what comes before a "but" ("not bad but …").
            let mut i = if kept.is_empty() { lead } else { from };
            if kept.is_empty()
                && let Some(c) = (i..to).rev().find(|&k| CONTRASTS.contains(&message.bare(k)))
            {
                i = c + 1;
            }
            if lead < to && is_redo(message, lead) {
                i = lead;
                i += if message.bare(i) == "do" { 3 } else { 1 };
                while i < to && (listed(DETERMINERS, message.bare(i)) || listed(PRONOUNS, message.bare(i))) {
                    i += 1;
                }
                if let Some(m) = self.mentions(message, to).into_iter().find(|m| m.start == i) {
                    i += m.len;
                }
                while i < to
                    && matches!(
                        message.bare(i),
                        "again"
                            | "please"
                            | "now"
                            | "over"
                            | "with"
                            | "and"
                            | "but"
                            | "so"
                            | "using"
                            | "from"
                            | "scratch"
                    )
                {
                    i += 1;
                }
            }
            let mut end = to;
            while end > i && matches!(message.bare(end - 1), "please" | "again" | "thanks" | "pls") {
                end -= 1;
            }
            if i < end {
                kept.push(message.text[tokens[i].start..tokens[end - 1].end].trim().to_string());
            }
        }
        let feedback = kept.join(", ");
        (!feedback.is_empty()).then_some(feedback)
    }
}
