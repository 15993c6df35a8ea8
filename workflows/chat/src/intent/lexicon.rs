//! The words the classifier knows: prototype sentences per kind, weighted cues, and the word
//! lists of its pattern rules, with the fuzzy matching of words against them.

use super::IntentKind;
use super::message::Message;

/// Prototype sentences per kind. Generic phrasings: a real sentence embedder generalises from
/// them, the hashed one matches their words.
pub(super) const PROTOTYPES: &[(IntentKind, &[&str])] = &[
    (
        IntentKind::Approve,
        &[
            "this looks good",
            "yes, I approve this step",
            "great result, let's continue",
            "perfect, go on to the next stage",
            "that's fine with me",
            "accept this version",
            "I'm happy with how it turned out",
            "nice job, keep it",
            "sounds right, proceed",
            "okay, leave it like that",
            "everything here is correct",
            "this is what I was hoping for",
            "excellent, next please",
            "agreed, mark it approved",
            "wonderful, no notes",
        ],
    ),
    (
        IntentKind::Regenerate,
        &[
            "redo this step",
            "regenerate it with these changes",
            "try once more",
            "I don't like this, make another one",
            "this is wrong, generate it again",
            "make it darker and more dramatic",
            "it is too long and too slow",
            "needs more detail and less clutter",
            "start again from scratch",
            "give me a fresh take on this",
            "the faces look off",
            "it should feel warmer",
            "not good enough, rework it",
            "change the mood, it's too gloomy",
            "can you make them look younger",
        ],
    ),
    (
        IntentKind::Edit,
        &[
            "set the name to something new",
            "change the title to a new title",
            "update this field to a new value",
            "set her outfit to a blue dress",
            "change his age to forty",
            "rename the character to Sam",
            "replace the text with this sentence",
            "the value should be exactly this",
            "set the location to the beach",
            "change the time to morning",
            "set the genre to comedy",
            "edit the description to read as follows",
            "put the duration at twenty seconds",
            "her hair colour should be black",
        ],
    ),
    (
        IntentKind::Question,
        &[
            "what is the current status",
            "what remains to be done",
            "how long will this take",
            "what happens next",
            "where are we now in the process",
            "is it finished yet",
            "what does this step do",
            "which stage is running",
            "how many are there",
            "am I able to undo this later",
            "why is it so slow",
            "explain this to me",
            "what am I looking at",
            "how does this work",
            "when will it be done",
        ],
    ),
];

/// How many of a kind's closest prototypes its similarity averages.
pub(super) const TOP_K: usize = 3;
/// How much the embedder's similarity counts against one keyword cue (weights ~1).
pub(super) const EMBEDDING_WEIGHT: f32 = 2.0;
/// Softmax temperature turning combined scores into a confidence.
pub(super) const TEMPERATURE: f32 = 0.5;
/// The most a regenerate that reads like setting a field can be sure of: below
/// [`crate::confirm::CONFIRM_BELOW`], so it is proposed, never done unasked.
pub(super) const FIELD_LIKE: f32 = 0.7;
/// How much a cue before a "but" counts: what follows the "but" is what the reviewer wants.
pub(super) const BEFORE_BUT: f32 = 0.4;

/// Keyword cues: a word or phrase, the kind it votes for (`None`: a negator), and its weight.
/// Words of six letters or more also match with one typo. None votes for an edit: the edit
/// shapes are rules, and a message that has none of them is no edit the caller could apply.
pub(super) const CUES: &[(&str, Option<IntentKind>, f32)] = {
    use IntentKind::{Approve as A, Question as Q, Regenerate as R};
    &[
        // Approve.
        ("approve", Some(A), 2.0),
        ("approved", Some(A), 2.0),
        ("lgtm", Some(A), 2.5),
        ("accept", Some(A), 1.5),
        ("accepted", Some(A), 1.5),
        ("ship it", Some(A), 2.5),
        ("sign off", Some(A), 1.5),
        ("yes", Some(A), 1.2),
        ("yep", Some(A), 1.2),
        ("yeah", Some(A), 1.2),
        ("yup", Some(A), 1.2),
        ("ok", Some(A), 1.0),
        ("okay", Some(A), 1.0),
        ("sure", Some(A), 0.8),
        ("good", Some(A), 1.0),
        ("great", Some(A), 1.0),
        ("perfect", Some(A), 1.5),
        ("fine", Some(A), 1.0),
        ("nice", Some(A), 1.0),
        ("excellent", Some(A), 1.2),
        ("awesome", Some(A), 1.2),
        ("amazing", Some(A), 1.2),
        ("beautiful", Some(A), 1.0),
        ("lovely", Some(A), 1.0),
        ("wonderful", Some(A), 1.0),
        ("brilliant", Some(A), 1.0),
        ("fantastic", Some(A), 1.2),
        ("solid", Some(A), 0.8),
        ("cool", Some(A), 0.7),
        ("happy", Some(A), 1.0),
        ("satisfied", Some(A), 1.2),
        ("pleased", Some(A), 1.0),
        ("exactly", Some(A), 1.2),
        ("right", Some(A), 0.5),
        ("correct", Some(A), 1.0),
        ("proceed", Some(A), 1.5),
        ("continue", Some(A), 1.5),
        ("next", Some(A), 0.8),
        ("go ahead", Some(A), 1.5),
        ("go on", Some(A), 1.0),
        ("move on", Some(A), 1.5),
        ("move forward", Some(A), 1.5),
        ("carry on", Some(A), 1.5),
        ("keep going", Some(A), 1.5),
        ("keep it", Some(A), 1.5),
        ("as is", Some(A), 1.0),
        ("as it is", Some(A), 1.0),
        ("works", Some(A), 0.8),
        ("works for me", Some(A), 1.5),
        ("that works", Some(A), 1.5),
        ("spot on", Some(A), 1.5),
        ("all good", Some(A), 1.5),
        ("well done", Some(A), 1.5),
        ("nailed it", Some(A), 2.0),
        ("lock it in", Some(A), 1.5),
        ("thats the one", Some(A), 1.5),
        ("no changes", Some(A), 2.0),
        ("no notes", Some(A), 2.0),
        ("no complaints", Some(A), 2.0),
        ("no issues", Some(A), 2.0),
        ("nothing to change", Some(A), 2.0),
        ("what i wanted", Some(A), 1.5),
        ("what i asked for", Some(A), 1.5),
        ("what i had in mind", Some(A), 1.5),
        ("what i needed", Some(A), 1.5),
        ("👍", Some(A), 2.0),
        ("👌", Some(A), 2.0),
        ("✅", Some(A), 2.0),
        // Regenerate.
        ("redo", Some(R), 2.0),
        ("regenerate", Some(R), 2.0),
        ("regen", Some(R), 2.0),
        ("reroll", Some(R), 2.0),
        ("swap", Some(R), 1.0),
        ("vary", Some(R), 1.2),
        ("look the same", Some(R), 1.0),
        ("retry", Some(R), 2.0),
        ("rework", Some(R), 2.0),
        ("rewrite", Some(R), 2.0),
        ("redraw", Some(R), 2.0),
        ("rerender", Some(R), 2.0),
        ("remake", Some(R), 2.0),
        ("again", Some(R), 1.5),
        ("start over", Some(R), 2.0),
        ("from scratch", Some(R), 2.0),
        ("try", Some(R), 0.5),
        ("try something", Some(R), 1.5),
        ("another", Some(R), 1.0),
        ("different", Some(R), 1.0),
        ("new version", Some(R), 1.5),
        ("fix", Some(R), 1.5),
        ("tweak", Some(R), 1.5),
        ("improve", Some(R), 1.5),
        ("adjust", Some(R), 1.2),
        ("refine", Some(R), 1.2),
        ("make", Some(R), 1.0),
        ("more", Some(R), 0.8),
        // Comparatives ask for a direction.
        ("give", Some(R), 0.8),
        ("warmer", Some(R), 0.8),
        ("colder", Some(R), 0.8),
        ("darker", Some(R), 0.8),
        ("brighter", Some(R), 0.8),
        ("funnier", Some(R), 0.8),
        ("scarier", Some(R), 0.8),
        ("sadder", Some(R), 0.8),
        ("happier", Some(R), 0.8),
        ("faster", Some(R), 0.8),
        ("slower", Some(R), 0.8),
        ("older", Some(R), 0.8),
        ("younger", Some(R), 0.8),
        ("less", Some(R), 0.8),
        ("fewer", Some(R), 0.8),
        ("too", Some(R), 1.0),
        ("needs", Some(R), 0.8),
        ("need", Some(R), 0.8),
        ("should", Some(R), 0.8),
        ("instead", Some(R), 1.0),
        ("nope", Some(R), 2.0),
        ("bad", Some(R), 1.0),
        ("wrong", Some(R), 1.5),
        ("ugly", Some(R), 1.5),
        ("boring", Some(R), 1.2),
        ("bland", Some(R), 1.0),
        ("hate", Some(R), 1.5),
        ("dislike", Some(R), 1.5),
        ("weird", Some(R), 1.0),
        ("awful", Some(R), 1.5),
        ("terrible", Some(R), 1.5),
        ("meh", Some(R), 1.5),
        ("off", Some(R), 0.5),
        ("flat", Some(R), 0.5),
        ("could be better", Some(R), 2.0),
        ("not quite", Some(R), 1.5),
        ("nothing like", Some(R), 1.2),
        ("how about", Some(R), 1.5),
        ("what about", Some(R), 1.5),
        // A change asked for without an edit's shape ("change the outline so …") is feedback.
        ("change", Some(R), 1.0),
        ("set", Some(R), 1.0),
        ("update", Some(R), 1.0),
        ("replace", Some(R), 1.0),
        ("rename", Some(R), 1.0),
        ("alter", Some(R), 1.0),
        ("modify", Some(R), 1.0),
        ("id like", Some(R), 1.0),
        ("i would like", Some(R), 1.0),
        ("i want", Some(R), 1.0),
        ("i wish", Some(R), 1.0),
        ("tighten", Some(R), 1.0),
        ("shorten", Some(R), 1.0),
        ("lengthen", Some(R), 1.0),
        ("brighten", Some(R), 1.0),
        ("darken", Some(R), 1.0),
        ("simplify", Some(R), 1.0),
        ("soften", Some(R), 1.0),
        ("sharpen", Some(R), 1.0),
        ("👎", Some(R), 2.0),
        ("❌", Some(R), 1.5),
        // Question.
        ("status", Some(Q), 1.5),
        ("progress", Some(Q), 1.5),
        ("remaining", Some(Q), 1.2),
        ("left", Some(Q), 0.5),
        ("explain", Some(Q), 1.5),
        ("tell me", Some(Q), 1.0),
        ("show me", Some(Q), 1.0),
        ("remind me", Some(Q), 1.5),
        ("eta", Some(Q), 1.5),
        ("help", Some(Q), 0.7),
        ("wondering", Some(Q), 1.0),
        ("curious", Some(Q), 1.0),
        ("any update", Some(Q), 1.5),
        ("what", Some(Q), 0.7),
        ("whats", Some(Q), 0.7),
        ("how", Some(Q), 0.7),
        ("why", Some(Q), 0.7),
        ("when", Some(Q), 0.7),
        ("where", Some(Q), 0.7),
        ("who", Some(Q), 0.7),
        ("which", Some(Q), 0.7),
        // Negators: flip the next approve or regenerate cue.
        ("not", None, 0.0),
        ("no", None, 0.0),
        ("dont", None, 0.0),
        ("do not", None, 0.0),
        ("doesnt", None, 0.0),
        ("does not", None, 0.0),
        ("didnt", None, 0.0),
        ("did not", None, 0.0),
        ("isnt", None, 0.0),
        ("arent", None, 0.0),
        ("wasnt", None, 0.0),
        ("never", None, 0.0),
        ("hardly", None, 0.0),
        ("cant", None, 0.0),
        ("cannot", None, 0.0),
        ("wont", None, 0.0),
        ("no need", None, 0.0),
    ]
};

/// Words after which comes what the reviewer wants: cues before them count less.
pub(super) const CONTRASTS: [&str; 5] = ["but", "though", "however", "although", "except"];
/// What an unused negator ("this doesn't look right") adds to regenerate.
pub(super) const LONE_NEGATOR: f32 = 0.5;
/// How many words a negator reaches over to the cue it flips.
pub(super) const NEGATION_REACH: usize = 3;

/// Words that open a question.
pub(super) const QUESTION_WORDS: &str = "what whats how hows why whys when whens where wheres who whos whose which";
/// Auxiliaries that open a question when their subject follows ("should I", "is the").
pub(super) const AUXILIARIES: &str = concat!(
    "is are was were am does did can could should shall will would has have may might must isnt ",
    "arent doesnt didnt",
);
/// Subjects after an auxiliary.
pub(super) const SUBJECTS: &str = concat!(
    "i we you u it this that these those there the a an my our your he she they anything ",
    "everything something all",
);
/// Words that open a command; a `?` after one does not make a question ("make it darker?").
pub(super) const COMMANDS: &str = concat!(
    "redo regenerate regen reroll retry rework rewrite redraw rerender remake make set change ",
    "update rename replace try give fix add remove use approve accept start go keep ship move ",
    "continue proceed tighten shorten brighten darken drop swap put edit",
);
/// Verbs that regenerate a node; the node right after one is the target, and they are trimmed
/// from feedback.
pub(super) const REDO_VERBS: &str = "redo regenerate regen reroll retry rework rewrite redraw rerender remake try";
/// Verbs after which a named node is the target.
pub(super) const TARGET_VERBS: &str = concat!(
    "redo regenerate regen reroll retry rework rewrite redraw rerender remake try fix approve ",
    "accept ship over with to",
);
/// Verbs that open an edit.
pub(super) const EDIT_VERBS: &str = "set change update make rename replace switch alter edit modify";
/// Words that are no part of a message's substance when they open it.
pub(super) const FILLERS: &str = concat!(
    "ok okay so hey hi hello hmm um uh well alright oh also btw and then but now just quick ",
    "question",
);
/// Determiners dropped in front of a field.
pub(super) const DETERMINERS: &str = "the a an his her their its my our this that";
/// Words that stand for a whole output rather than a field ("change it to something darker").
pub(super) const PRONOUNS: &str = "it this that them these those everything all";
/// First words of a value that describe a direction rather than a value ("to be more hopeful",
/// "should be more painterly"): a regenerate, not an edit.
pub(super) const VAGUE_VALUES: &str = concat!(
    "be have look looks feel sound make match show use include something anything fit seem get ",
    "more less slightly much even somewhat kinda way",
);
/// Fields of the stage data model (and their everyday names) an edit can set.
pub(super) const FIELDS: &str = concat!(
    "name title logline synopsis summary premise style genre tone setting clothing clothes ",
    "outfit costume props prop face body hair hair_color hair_colour eye_color eyes age role ",
    "personality voice location time_of_day slugline description dialogue line aspect_ratio fps ",
    "frame_rate width height resolution duration target_duration length seed shot_type angle ",
    "camera_angle movement camera_movement beat opening_beat occupation job backstory ",
    "motivation species",
);
/// Whole-episode words: renaming one of them sets the title.
pub(super) const EPISODE_WORDS: &str = "episode film movie video show story project";

/// Optimal string alignment distance, capped: is `a` within one edit of `b`?
pub(super) fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()] <= 1
}

/// A message word matches a vocabulary word: exactly, or with one typo when the vocabulary word
/// is long enough for a typo to be unambiguous (six letters, same first letter).
pub(super) fn word_matches(word: &str, vocabulary: &str, fuzzy: bool) -> bool {
    word == vocabulary
        || (fuzzy
            && vocabulary.chars().count() >= 6
            && word.chars().next() == vocabulary.chars().next()
            && within_one_edit(word, vocabulary))
}

/// Whether `word` is one of the words of `list`.
pub(super) fn listed(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

/// The word of `list` that `word` is, allowing one typo (see [`word_matches`]).
pub(super) fn listed_fuzzy(list: &'static str, word: &str) -> Option<&'static str> {
    list.split_whitespace().find(|w| word_matches(word, w, true))
}

/// The words of a phrase as the tokenizer cuts them.
pub(super) fn words_of(phrase: &str) -> Vec<String> {
    Message::parse(phrase).tokens.into_iter().map(|t| t.bare).collect()
}
